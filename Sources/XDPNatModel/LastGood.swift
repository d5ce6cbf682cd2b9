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
        for p in previous.pools where shouldKeep(ResourceSet.key(p)) {
            out.pools.append(p)
            kept.append(ResourceSet.key(p))
        }
        for e in previous.egressNATs where shouldKeep(ResourceSet.key(e)) {
            out.egressNATs.append(e)
            kept.append(ResourceSet.key(e))
        }
        for p in previous.pods where shouldKeep(ResourceSet.key(p)) {
            out.pods.append(p)
            kept.append(ResourceSet.key(p))
        }
        for n in previous.namespaces where shouldKeep(ResourceSet.key(n)) {
            out.namespaces.append(n)
            kept.append(ResourceSet.key(n))
        }
        for k in kept {
            have.insert(k)
            out.locations[k] = previous.locations[k]
        }
        return Result(resources: out, kept: kept.sorted())
    }
}
