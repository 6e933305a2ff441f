import ArgumentParser
import Foundation
import PleuraCore
import PleuraStore
import PleuraStorePostgres

/// `pleura store verify --store DB`: is the store sound, and does its derived state match the log?
/// `pleura store init DB`: create a store (on PostgreSQL also its roles).
/// `pleura store copy SRC DST`: a whole store into an empty one, either backend to either.
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Create, check or copy an annotation store.",
        subcommands: [StoreVerifyCommand.self, StoreInitCommand.self, StoreCopyCommand.self])
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
            Exit status 0 when everything holds, with a second line: the store's digest (SHA-256 \
            over every row of media, paths, annotators, sessions, heatmap and rating contexts and \
            events, in id order; equal on SQLite and PostgreSQL for the same store, as `store copy` \
            checks). 1 with one `pleura: DB: …` line per problem otherwise (a store changed outside \
            Pleura, e.g. with sqlite3, or a damaged file).
            """)

    @Option(help: "Store database.")
    var store: String

    func run() throws {
        if PostgresLocation.isURL(store) {
            let db = try PostgresStore.open(url: store)
            let result = try db.verify()
            if result.problems.isEmpty {
                print(SafeText.sanitize("\(db.location): ok (\(result.events) events; current labels match the log; every protecting trigger present)"))
                print(SafeText.sanitize("\(db.location): \(try db.withCopySnapshot(StoreCopy.digest).summary)"))
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
            print(SafeText.sanitize("\(db.path): \(try db.withCopySnapshot(StoreCopy.digest).summary)"))
            return
        }
        for problem in problems { reportError(PleuraError(file: db.path, problem)) }
        throw ExitCode(1)
    }
}

/// Opens a store that must exist already: the commands that read or check a store never create
/// one (opening a missing path would make an empty store and report on nothing). `next` says
/// what to do instead, after "no such store: ".
func openExistingStore(_ path: String, next: String = "give the path of an existing .sqlite store") throws -> AnnotationStore {
    guard FileManager.default.fileExists(atPath: path) else {
        throw PleuraError(file: path, "no such store: \(next)")
    }
    return try AnnotationStore.open(path: path)
}

/// Opens the store that `location` names for the commands that run on both backends (the
/// ``LabelStore`` protocol): a `postgresql://` URL or an SQLite file path.
func openLabelStore(_ location: String) throws -> any LabelStore {
    if PostgresLocation.isURL(location) { return try PostgresStore.open(url: location) }
    return try AnnotationStore.open(path: location)
}

struct StoreCopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a whole store into a new or empty one (SQLite and PostgreSQL, either way).",
        discussion: """
            SRC and DST are each a file path or a postgresql:// URL. Carries media, their paths, \
            annotators, sessions, heatmap and rating contexts and every event with its id, in one \
            transaction on DST; current labels are derived again there from the events. DST must \
            be a new file, an empty store or an empty database (createdb). Before committing, the \
            digest of what DST then holds is compared with SRC's (the digest `pleura store verify` \
            prints); a difference rolls everything back. Refused in one line, copying nothing: the \
            same store twice, a DST that holds anything, an SRC with reviews, predictions, stored \
            heatmaps or exam assignments (PostgreSQL has no place for them yet). On PostgreSQL copy \
            as the store's owner (a blinded rater's role cannot see every rating). Long copies \
            show their progress on standard error.
            """)

    @Argument(help: "The store to copy: a file path or a postgresql:// URL.")
    var source: String

    @Argument(help: "The store to create: a new file path or an empty PostgreSQL database's URL.")
    var destination: String

    @Option(help: "Seconds to keep retrying a server that cannot be reached.")
    var wait: Double = 10

    func run() throws {
        let start = Measure.now()
        let from = try openCopyEndpoint(source, create: false)
        // A new SQLite file made for the copy is removed again when the copy fails, so a refused
        // or failed copy leaves nothing behind.
        let isNewFile = !PostgresLocation.isURL(destination) && !FileManager.default.fileExists(atPath: destination)
        let digest: StoreDigest, to: String
        do {
            let target = try openCopyEndpoint(destination, create: true)
            to = target.location
            var lastShown = start
            var shown = false
            let terminal = isatty(STDERR_FILENO) != 0
            digest = try StoreCopy.copy(from: from, to: target) { done, total in
                // A line at most once a second, and only once the copy has run for a second.
                let now = Measure.now()
                guard now - lastShown >= 1 else { return }
                lastShown = now
                shown = true
                let line = "pleura: store copy: \(done) of \(total) rows (\(total == 0 ? 100 : done * 100 / total) %)"
                FileHandle.standardError.write(Data((terminal ? "\r" + line : line + "\n").utf8))
            }
            if shown && terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        } catch {
            if isNewFile {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: destination + suffix) }
            }
            throw error
        }
        let rows = digest.tables.reduce(0) { $0 + $1.rows }
        let events = digest.tables.first { $0.name == "event" }?.rows ?? 0
        print(SafeText.sanitize("\(from.location) → \(to): copied \(rows) rows (\(events) events) in \(String(format: "%.1f", Measure.now() - start)) s; \(digest.summary) on both sides"))
    }

    /// The store at `location` for copying: an SQLite file (which must exist unless `create`),
    /// or a PostgreSQL database (schema made when it is empty), retried for `wait` seconds.
    private func openCopyEndpoint(_ location: String, create: Bool) throws -> any StoreCopyEndpoint {
        if PostgresLocation.isURL(location) { return try PostgresStore.open(url: location, busyTimeout: wait) }
        return create ? try AnnotationStore.open(path: location) : try openExistingStore(location)
    }
}
