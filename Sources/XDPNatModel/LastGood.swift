/// Keeps the last good version of a resource while its manifest is broken,
/// so a typo never tears down a working configuration.
public enum LastGood {
    public struct Result: Sendable {
        public var resources: ResourceSet
        /// Keys of resources kept from the previous configuration.
        public var kept: [String]
    }

    /// `previous`: the configuration in force. `current`: the valid resources
    /// just read. `errors`: what was wrong with the rest.
    public static func merge(previous: ResourceSet, current: ResourceSet, errors: [ManifestError]) -> Result {
        var out = current
        var have = Set(current.pools.map(ResourceSet.key) + current.egressNATs.map(ResourceSet.key)
            + current.pods.map(ResourceSet.key) + current.namespaces.map(ResourceSet.key))
        var kept: [String] = []
        let broken = Set(errors.compactMap(\.resource))
        // documents that could not even be read: keep everything that came from their file
        let unreadableFiles = Set(errors.filter { $0.resource == nil }.map(\.file))
        func shouldKeep(_ key: String) -> Bool {
            guard !have.contains(key) else { return false }
            if broken.contains(key) { return true }
            if let file = previous.locations[key]?.file, unreadableFiles.contains(file) { return true }
            return false
        }
        func keep<T>(_ kind: WritableKeyPath<ResourceSet, [T]>, _ key: (T) -> String) {
            for r in previous[keyPath: kind] where shouldKeep(key(r)) {
                out[keyPath: kind].append(r)
                kept.append(key(r))
            }
        }
        keep(\.pools, ResourceSet.key)
        keep(\.egressNATs, ResourceSet.key)
        keep(\.pods, ResourceSet.key)
        keep(\.namespaces, ResourceSet.key)
        for k in kept {
            have.insert(k)
            out.locations[k] = previous.locations[k]
        }
        return Result(resources: out, kept: kept.sorted())
    }
}
