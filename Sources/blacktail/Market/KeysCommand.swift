import ArgumentParser
import Engine
import Foundation

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make and list the Ed25519 keys that sign published models.",
        discussion: "Keys live in the home's keys/ folder, readable by their owner only. The first key made is the default.",
        subcommands: [New.self, List.self, Export.self, Default.self]
    )

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a new signing key.")

        @Argument(help: "The key's name: letters, digits, '-' and '_'.")
        var name: String

        @Flag(help: "Make it the default key.")
        var makeDefault = false

        @OptionGroup var home: HomeOptions

        func run() async throws {
            let ring = KeyRing(folder: home.workspace.keysFolder)
            let key = try ring.create(name: name)
            if makeDefault { try ring.setDefault(name) }
            print("\(key.name)  \(key.publicKey.fingerprint)\(try ring.defaultName() == name ? "  (default)" : "")")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the signing keys.")

        @OptionGroup var home: HomeOptions

        func run() async throws {
            let entries = try KeyRing(folder: home.workspace.keysFolder).entries()
            if entries.isEmpty {
                print("no keys; make one with 'blacktail keys new NAME'")
                return
            }
            let width = entries.map(\.name.count).max() ?? 0
            for entry in entries {
                let created = RunSummary.timestamp(entry.createdAt)
                print("\(entry.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(entry.publicKey.fingerprint)  \(created)\(entry.isDefault ? "  (default)" : "")")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a key's public half as JSON, for others to check signatures with ('market verify --key FILE')."
        )

        @Argument(help: "The key's name.")
        var name: String

        @OptionGroup var home: HomeOptions

        func run() async throws {
            let key = try KeyRing(folder: home.workspace.keysFolder).key(name)
            let object: [String: String] = [
                "algorithm": "ed25519",
                "name": key.name,
                "public_key": key.publicKey.base64,
                "fingerprint": key.publicKey.fingerprint,
            ]
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(object), as: UTF8.self))
        }
    }

    struct Default: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Choose the key that signs when a publish names none.")

        @Argument(help: "The key's name.")
        var name: String

        @OptionGroup var home: HomeOptions

        func run() async throws {
            try KeyRing(folder: home.workspace.keysFolder).setDefault(name)
        }
    }
}
