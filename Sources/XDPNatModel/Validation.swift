import XDPNatNet

/// Checks resources beyond what YAML decoding guarantees, mirroring the CRD
/// schema and adding cross-resource rules. Invalid resources are left out of
/// the result; valid ones are never discarded because of them.
public enum Validator {
    public struct Result: Sendable {
        public var valid: ResourceSet
        public var errors: [ManifestError]
    }

    public static func validate(_ input: ResourceSet) -> Result {
        var out = ResourceSet()
        out.locations = input.locations
        out.pods = input.pods
        out.namespaces = input.namespaces
        var errors: [ManifestError] = []
        func loc(_ key: String) -> SourceLocation { input.locations[key] ?? SourceLocation(file: "<input>", document: 0) }

        // NATPools: each on its own, then overlaps in name order (the first keeps its addresses)
        var owners: [IPv4Address: String] = [:]
        var seenPools = Set<String>()
        for pool in input.pools.sorted(by: { $0.metadata.name < $1.metadata.name }) {
            let key = ResourceSet.key(pool)
            var errs = check(pool).map { loc(key).error(key, $0.field, $0.message) }
            if !seenPools.insert(pool.metadata.name).inserted {
                errs.append(loc(key).error(key, "metadata.name", "a NATPool of this name is already defined"))
            }
            if errs.isEmpty {
                for (i, text) in pool.spec.addresses.enumerated() {
                    guard let cidr = IPv4CIDR(text) else { continue }
                    if let clash = cidr.addresses.first(where: { owners[$0] != nil }) {
                        errs.append(loc(key).error(key, "spec.addresses[\(i)]",
                                                   "\(clash) is already in NATPool '\(owners[clash]!)'; pools must not overlap"))
                    }
                }
            }
            if errs.isEmpty {
                for a in pool.addressList { owners[a] = pool.metadata.name }
                out.pools.append(pool)
            }
            errors += errs
        }

        var seenNATs = Set<String>()
        for e in input.egressNATs.sorted(by: { $0.id < $1.id }) {
            let key = ResourceSet.key(e)
            var errs = check(e).map { loc(key).error(key, $0.field, $0.message) }
            if !seenNATs.insert(e.id).inserted {
                errs.append(loc(key).error(key, "metadata.name", "an EgressNAT of this name is already defined in namespace \(e.namespace)"))
            }
            if errs.isEmpty { out.egressNATs.append(e) }
            errors += errs
        }
        return Result(valid: out, errors: errors)
    }

    public struct FieldError: Hashable, Sendable {
        public var field: String
        public var message: String
        init(_ field: String, _ message: String) {
            self.field = field
            self.message = message
        }
    }

    /// Rules for one NATPool.
    public static func check(_ pool: NATPool) -> [FieldError] {
        var e: [FieldError] = []
        e += checkName(pool.metadata.name)
        if pool.metadata.namespace != nil {
            e.append(FieldError("metadata.namespace", "NATPool is cluster-scoped: remove the namespace"))
        }
        if pool.spec.addresses.isEmpty {
            e.append(FieldError("spec.addresses", "must list at least one address or CIDR"))
        }
        for (i, text) in pool.spec.addresses.enumerated() {
            e += checkNATAddress(text, field: "spec.addresses[\(i)]")
        }
        let pr = pool.portRange
        if !(1...65535).contains(pr.min) { e.append(FieldError("spec.portRange.min", "must be between 1 and 65535, got \(pr.min)")) }
        if !(1...65535).contains(pr.max) { e.append(FieldError("spec.portRange.max", "must be between 1 and 65535, got \(pr.max)")) }
        if pr.min > pr.max { e.append(FieldError("spec.portRange", "min (\(pr.min)) is greater than max (\(pr.max))")) }
        if let bs = pool.spec.blockSize {
            if pool.allocation != .shared {
                e.append(FieldError("spec.blockSize", "only applies to allocation: Shared"))
            } else if bs < 64 || bs > pr.count {
                e.append(FieldError("spec.blockSize", "must be between 64 and the size of the port range (\(pr.count)), got \(bs)"))
            }
        } else if pool.allocation == .shared, NATPool.defaultBlockSize > pr.count, pr.min <= pr.max {
            e.append(FieldError("spec.blockSize", "the default block of \(NATPool.defaultBlockSize) ports does not fit the port range (\(pr.count) ports): set a smaller blockSize"))
        }
        if let sel = pool.spec.namespaceSelector { e += checkSelector(sel, field: "spec.namespaceSelector") }
        return e
    }

    /// Rules for one EgressNAT.
    public static func check(_ nat: EgressNAT) -> [FieldError] {
        var e: [FieldError] = []
        e += checkName(nat.metadata.name)
        if let ns = nat.metadata.namespace { e += checkName(ns, field: "metadata.namespace", maxLength: 63) }
        if let sel = nat.spec.podSelector { e += checkSelector(sel, field: "spec.podSelector") }
        if let p = nat.spec.poolRef { e += checkName(p, field: "spec.poolRef") }
        for (list, name) in [(nat.spec.destinations, "destinations"), (nat.spec.excludedDestinations, "excludedDestinations"),
                             (nat.spec.sourceCIDRs, "sourceCIDRs")] {
            for (i, text) in (list ?? []).enumerated() where IPv4CIDR(text) == nil {
                e.append(FieldError("spec.\(name)[\(i)]", cidrProblem(text)))
            }
        }
        if let n = nat.spec.addresses, !(1...256).contains(n) {
            e.append(FieldError("spec.addresses", "must be between 1 and 256, got \(n)"))
        }
        return e
    }

    static func cidrProblem(_ text: String) -> String {
        let parts = text.split(separator: "/")
        if parts.count == 2, let a = IPv4Address(parts[0]), let l = Int(parts[1]), (0...32).contains(l) {
            let net = IPv4Address(a.value & (l == 0 ? 0 : UInt32.max << (32 - l)))
            return "'\(text)' has host bits set (did you mean \(net)/\(l)?)"
        }
        return "'\(text)' is not an IPv4 address or CIDR"
    }

    static func checkNATAddress(_ text: String, field: String) -> [FieldError] {
        guard let c = IPv4CIDR(text) else { return [FieldError(field, cidrProblem(text))] }
        if c.prefixLength < 16 { return [FieldError(field, "\(c) is larger than a /16; split the pool")] }
        let reserved: [(String, String)] = [("0.0.0.0/8", "'this network'"), ("127.0.0.0/8", "loopback"),
                                            ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"),
                                            ("169.254.0.0/16", "link-local")]
        for (r, what) in reserved where IPv4CIDR(r)!.overlaps(c) {
            return [FieldError(field, "\(c) overlaps \(what) space \(r)")]
        }
        return []
    }

    static func checkName(_ name: String, field: String = "metadata.name", maxLength: Int = 253) -> [FieldError] {
        let ok = !name.isEmpty && name.count <= maxLength
            && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") }
            && name.first!.isLetterOrNumber && name.last!.isLetterOrNumber
        return ok ? [] : [FieldError(field, "'\(name)' is not a valid name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)")]
    }

    static func checkSelector(_ sel: LabelSelector, field: String) -> [FieldError] {
        var e: [FieldError] = []
        for (i, r) in (sel.matchExpressions ?? []).enumerated() {
            let f = "\(field).matchExpressions[\(i)]"
            if r.key.isEmpty { e.append(FieldError("\(f).key", "must not be empty")) }
            switch r.operator {
            case .in, .notIn:
                if (r.values ?? []).isEmpty { e.append(FieldError("\(f).values", "operator \(r.operator.rawValue) needs at least one value")) }
            case .exists, .doesNotExist:
                if !(r.values ?? []).isEmpty { e.append(FieldError("\(f).values", "operator \(r.operator.rawValue) takes no values")) }
            }
        }
        if e.isEmpty, let why = unsatisfiable(sel) {
            e.append(FieldError(field, "can never match anything: \(why)"))
        }
        return e
    }

    /// Why no set of labels can satisfy the selector, if that is so.
    static func unsatisfiable(_ sel: LabelSelector) -> String? {
        let labels = sel.matchLabels ?? [:]
        let exprs = sel.matchExpressions ?? []
        for r in exprs {
            let fixed = labels[r.key]
            switch r.operator {
            case .in:
                if let fixed, !(r.values ?? []).contains(fixed) { return "matchLabels sets \(r.key)=\(fixed) but the expression requires it In \(r.values ?? [])" }
            case .notIn:
                if let fixed, (r.values ?? []).contains(fixed) { return "matchLabels sets \(r.key)=\(fixed) but the expression excludes it" }
            case .doesNotExist:
                if fixed != nil { return "matchLabels sets \(r.key) but the expression requires it not to exist" }
                if exprs.contains(where: { $0.key == r.key && ($0.operator == .exists || $0.operator == .in) }) {
                    return "\(r.key) is required both to exist and not to exist"
                }
            case .exists:
                break
            }
        }
        // two In requirements on one key with no common value
        let ins = exprs.filter { $0.operator == .in }
        for (i, a) in ins.enumerated() {
            for b in ins[(i + 1)...] where a.key == b.key && Set(a.values ?? []).isDisjoint(with: b.values ?? []) {
                return "\(a.key) must be In \(a.values ?? []) and In \(b.values ?? []) at once"
            }
        }
        return nil
    }
}

extension Character {
    var isLetterOrNumber: Bool { isLetter || isNumber }
}
