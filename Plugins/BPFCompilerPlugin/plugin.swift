import Foundation
import PackagePlugin

/// Compiles every `bpf/*.bpf.c` of the package with the toolchain's clang
/// (`-O2 -g -target bpf`) into the target's resource bundle, so the objects
/// are built with the package and never committed.
@main
struct BPFCompilerPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let bpfDir = context.package.directoryURL.appending(path: "bpf")
        let fm = FileManager.default
        var headers: [URL] = []
        var sources: [URL] = []
        if let walker = fm.enumerator(at: bpfDir, includingPropertiesForKeys: nil) {
            for case let url as URL in walker {
                if url.lastPathComponent.hasSuffix(".bpf.c") { sources.append(url) }
                if url.pathExtension == "h" { headers.append(url) }
            }
        }
        let clang = try context.tool(named: "clang").url
        // Debian puts asm/ under the multiarch include directory.
        let multiarch = ["x86_64-linux-gnu", "aarch64-linux-gnu"]
            .map { "/usr/include/\($0)" }
            .filter { fm.fileExists(atPath: $0) }
        return sources.sorted { $0.path < $1.path }.map { src in
            let name = src.lastPathComponent.replacingOccurrences(of: ".bpf.c", with: ".bpf.o")
            let out = context.pluginWorkDirectoryURL.appending(path: name)
            var args = ["-O2", "-g", "-Wall", "-Werror", "-target", "bpf"]
            args += multiarch.flatMap { ["-I", $0] }
            args += ["-I", bpfDir.path, "-c", src.path, "-o", out.path]
            return .buildCommand(
                displayName: "Compiling BPF \(src.lastPathComponent)",
                executable: clang,
                arguments: args,
                inputFiles: [src] + headers,
                outputFiles: [out]
            )
        }
    }
}
