import ArgumentParser
import Foundation
import PleuraCore
import PleuraStore

/// `pleura store verify --store DB`: is the store sound, and does its derived state match the log?
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Check an annotation store.",
        subcommands: [StoreVerifyCommand.self])
}

struct StoreVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a store: SQLite quick check, protecting triggers, current labels against the event log.",
        discussion: """
            Exit status 0 when everything holds; 1 with one `pleura: DB: …` line per problem \
            otherwise (a store changed outside Pleura, e.g. with sqlite3, or a damaged file).
            """)

    @Option(help: "Store database.")
    var store: String

    func run() throws {
        let db = try openExistingStore(store)
        let result = try db.verify()
        let problems = result.problems
        if problems.isEmpty {
            print(SafeText.sanitize("\(db.path): ok (\(result.events) events; current labels match the log; every protecting trigger present)"))
            return
        }
        for problem in problems { reportError(PleuraError(file: db.path, problem)) }
        throw ExitCode(1)
    }
}

/// Opens a store that must exist already (checking commands never create one).
func openExistingStore(_ path: String) throws -> AnnotationStore {
    guard FileManager.default.fileExists(atPath: path) else {
        throw PleuraError(file: path, "no such store (give the path of an existing .sqlite store)")
    }
    return try AnnotationStore.open(path: path)
}
