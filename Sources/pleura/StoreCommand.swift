import ArgumentParser
import Foundation
import PleuraCore
import PleuraStore
import PleuraStorePostgres

/// `pleura store verify --store DB`: is the store sound, and does its derived state match the log?
/// `pleura store init DB`: create a store (on PostgreSQL also its roles).
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Create or check an annotation store.",
        subcommands: [StoreVerifyCommand.self, StoreInitCommand.self])
}

struct StoreInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a store: an SQLite file, or the schema and roles in a PostgreSQL database.",
        discussion: """
            For postgresql://user@host:port/database (the database must exist: createdb), creates \
            or migrates the schema and the group roles pleura_annotator (read and append only) and \
            pleura_blind_rater (the same, seeing only its own ratings); run it as the role that \
            is to own the tables, with the right to create roles. Give annotators login roles in \
            those groups (CREATE ROLE alice LOGIN IN ROLE pleura_annotator). The password comes \
            from ~/.pgpass, PGPASSFILE or PGPASSWORD, never from the URL.
            """)

    @Argument(help: "Store: a file path or a postgresql:// URL.")
    var store: String

    func run() throws {
        if PostgresLocation.isURL(store) {
            let db = try PostgresStore.initialize(url: store)
            print(SafeText.sanitize("\(db.location): store schema \(PostgresStore.schemaVersion); roles pleura_annotator and pleura_blind_rater may read and append"))
        } else {
            let db = try AnnotationStore.open(path: store)
            print(SafeText.sanitize("\(db.path): store schema \(AnnotationStore.schemaVersion)"))
        }
    }
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
        if PostgresLocation.isURL(store) {
            let db = try PostgresStore.open(url: store)
            let result = try db.verify()
            if result.problems.isEmpty {
                print(SafeText.sanitize("\(db.location): ok (\(result.events) events; current labels match the log; every protecting trigger present)"))
                return
            }
            for problem in result.problems { reportError(PleuraError(file: db.location, problem)) }
            throw ExitCode(1)
        }
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

/// Opens the store that `location` names for the commands that run on both backends (the
/// ``LabelStore`` protocol): a `postgresql://` URL or an SQLite file path.
func openLabelStore(_ location: String) throws -> any LabelStore {
    if PostgresLocation.isURL(location) { return try PostgresStore.open(url: location) }
    return try AnnotationStore.open(path: location)
}
