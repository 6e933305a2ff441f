import Foundation
import PleuraCore
import PleuraStorePostgres

extension DoctorCommand {
    /// `pleura doctor --store postgresql://…`: can we connect, which schema, what may this role do.
    static func postgresReport(_ url: String) -> [String] {
        var lines: [String] = []
        func line(_ key: String, _ value: String) {
            lines.append(key.padding(toLength: 20, withPad: " ", startingAt: 0) + SafeText.sanitize(value))
        }
        do {
            let location = try PostgresLocation(url: url)
            line("  server", location.description)
            line("  password", location.password() == nil ? "none given (PGPASSWORD, PGPASSFILE, ~/.pgpass): fine when the server trusts this user"
                                                         : "from PGPASSWORD or the password file")
            let store = try PostgresStore.open(url: url, busyTimeout: 5)
            let rights = try store.roleRights()
            let result = try store.verify()
            line("  connection", "ok: PostgreSQL \(rights.serverVersion), synchronous_commit \(rights.synchronousCommit)")
            line("  schema", "\(result.schemaVersion) (this Pleura writes \(PostgresStore.schemaVersion))")
            line("  events", "\(result.events)")
            var role = "\(rights.role): " + (rights.isOwner ? "owns the tables (migrates; use it for `pleura store init`, not for labelling)"
                                                            : rights.canAppend ? "may read and append" : "may only read")
            if rights.canUpdateOrDelete { role += "; has UPDATE/DELETE rights (the triggers still refuse them; annotators should be in pleura_annotator)" }
            if rights.isBlindedRater { role += "; blinded rater: sees only its own ratings" }
            line("  role", role)
            line("  check", result.problems.isEmpty ? "ok (triggers present, current labels match the log)"
                                                    : result.problems.joined(separator: "; "))
        } catch let error as PleuraError {
            line("  check", "cannot open: " + error.reason)
        } catch {
            line("  check", "cannot open: \(error)")
        }
        return lines
    }
}
