public enum Model {}
