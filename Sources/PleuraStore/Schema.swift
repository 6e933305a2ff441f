/// The store's SQL schema as numbered migrations.
///
/// `PRAGMA user_version` holds the number of the last migration applied and `PRAGMA
/// application_id` marks the file as a Pleura store. A Pleura that finds a higher version than it
/// knows refuses the file without writing to it (see ``AnnotationStore/open(path:)``).
///
/// Rules that keep the store's promises (design.md):
/// - `event` is the source of truth for labels and ratings. It is append-only: triggers abort any
///   UPDATE or DELETE. So are `media`, `media_path`, `annotator`, `session`, `heatmap_context`,
///   `review`, `prediction` and `heatmap`.
/// - `current_value` is a cache of the newest event per (item, annotator, context, field), kept by
///   a trigger in the same transaction as the event insert, so it can never disagree with the log.
///   ``AnnotationStore/verifyCurrentState()`` recomputes it from the log to prove that.
/// - A whole-video item is stored with `frame = -1` (NULL would break the current-state key).
enum Schema {
    /// 'PLRA': the SQLite application id of a Pleura store.
    static let applicationID: Int32 = 0x504C_5241

    /// Migration N (1-based) is `migrations[N - 1]`. Never edit a released migration; append one.
    static let migrations: [String] = [migration1, migration2, migrationRatingProvenance, migrationProtectCurrentValue,
                                       migrationPredictionUncertainty, migrationExams]

    static var currentVersion: Int { migrations.count }

    private static func appendOnly(_ table: String) -> String {
        """
        CREATE TRIGGER \(table)_is_append_only_update BEFORE UPDATE ON \(table)
        BEGIN SELECT RAISE(ABORT, '\(table) is append-only: history is never changed'); END;
        CREATE TRIGGER \(table)_is_append_only_delete BEFORE DELETE ON \(table)
        BEGIN SELECT RAISE(ABORT, '\(table) is append-only: history is never deleted'); END;
        """
    }

    static let migration1 = """
    CREATE TABLE media (
        id            INTEGER PRIMARY KEY,
        sha256        TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),
        kind          TEXT,      -- video / image
        container     TEXT,
        codec         TEXT,
        width         INTEGER,
        height        INTEGER,
        fps           REAL,
        frames        INTEGER,
        bytes         INTEGER,
        registered_at TEXT NOT NULL,
        os_user       TEXT NOT NULL,
        uid           INTEGER NOT NULL
    );
    -- Where a file with this content was seen; the newest row is its current path.
    CREATE TABLE media_path (
        id        INTEGER PRIMARY KEY,
        media_id  INTEGER NOT NULL REFERENCES media(id),
        path      TEXT NOT NULL,
        seen_at   TEXT NOT NULL,
        os_user   TEXT NOT NULL,
        uid       INTEGER NOT NULL
    );
    CREATE INDEX media_path_by_path ON media_path(path, id);
    CREATE INDEX media_path_by_media ON media_path(media_id, id);

    CREATE TABLE annotator (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE CHECK (length(name) > 0),
        role       TEXT NOT NULL CHECK (role IN ('labeller', 'rater', 'trainee', 'reference', 'model')),
        created_at TEXT NOT NULL,
        os_user    TEXT NOT NULL,
        uid        INTEGER NOT NULL
    );

    CREATE TABLE session (
        id             INTEGER PRIMARY KEY,
        annotator_id   INTEGER NOT NULL REFERENCES annotator(id),
        name           TEXT NOT NULL,
        mode           TEXT NOT NULL,
        started_at     TEXT NOT NULL,
        os_user        TEXT NOT NULL,
        uid            INTEGER NOT NULL,
        host           TEXT NOT NULL,
        pid            INTEGER NOT NULL,
        pleura_version TEXT NOT NULL
    );

    -- The exact picture a rating is about: model, method, layer, target class and the map's hash.
    CREATE TABLE heatmap_context (
        id             INTEGER PRIMARY KEY CHECK (id > 0),
        model_sha256   TEXT NOT NULL,
        method         TEXT NOT NULL,
        layer          TEXT NOT NULL,
        target         TEXT NOT NULL,
        heatmap_sha256 TEXT NOT NULL,
        UNIQUE (model_sha256, method, layer, target, heatmap_sha256)
    );

    -- The append-only history of every label and rating change.
    CREATE TABLE event (
        id           INTEGER PRIMARY KEY,
        action_id    INTEGER NOT NULL,            -- id of the first event of the user action
        kind         TEXT NOT NULL CHECK (kind IN ('set', 'import', 'undo', 'redo')),
        reverts      INTEGER,                     -- undo/redo: the action undone or redone
        at           TEXT NOT NULL,               -- UTC, ISO 8601 with milliseconds
        annotator_id INTEGER NOT NULL REFERENCES annotator(id),
        session_id   INTEGER NOT NULL REFERENCES session(id),
        os_user      TEXT NOT NULL,
        uid          INTEGER NOT NULL,
        media_id     INTEGER NOT NULL REFERENCES media(id),
        frame        INTEGER NOT NULL CHECK (frame >= -1),   -- -1: the whole video
        context_id   INTEGER NOT NULL DEFAULT 0,             -- 0: a label; else heatmap_context.id
        field        TEXT NOT NULL,
        old_value    TEXT,                                   -- NULL: not assessed
        new_value    TEXT
    );
    CREATE INDEX event_by_session ON event(annotator_id, session_id, action_id);
    CREATE INDEX event_by_item ON event(media_id, frame, annotator_id);

    -- Cache: the newest value per key, maintained by the trigger below (same transaction).
    CREATE TABLE current_value (
        media_id     INTEGER NOT NULL,
        frame        INTEGER NOT NULL,
        annotator_id INTEGER NOT NULL,
        context_id   INTEGER NOT NULL,
        field        TEXT NOT NULL,
        value        TEXT,
        event_id     INTEGER NOT NULL,
        PRIMARY KEY (media_id, frame, annotator_id, context_id, field)
    ) WITHOUT ROWID;
    CREATE TRIGGER event_sets_current_value AFTER INSERT ON event
    BEGIN
        INSERT INTO current_value (media_id, frame, annotator_id, context_id, field, value, event_id)
        VALUES (NEW.media_id, NEW.frame, NEW.annotator_id, NEW.context_id, NEW.field, NEW.new_value, NEW.id)
        ON CONFLICT DO UPDATE SET value = excluded.value, event_id = excluded.event_id;
    END;

    -- A trainee's review of a disagreement: what was shown and what they concluded.
    CREATE TABLE review (
        id            INTEGER PRIMARY KEY,
        at            TEXT NOT NULL,
        annotator_id  INTEGER NOT NULL REFERENCES annotator(id),
        session_id    INTEGER NOT NULL REFERENCES session(id),
        os_user       TEXT NOT NULL,
        uid           INTEGER NOT NULL,
        media_id      INTEGER NOT NULL REFERENCES media(id),
        frame         INTEGER NOT NULL CHECK (frame >= -1),
        field         TEXT NOT NULL,
        first_source  TEXT NOT NULL,
        first_value   TEXT,
        second_source TEXT NOT NULL,
        second_value  TEXT,
        own_value     TEXT,
        verdict       TEXT NOT NULL CHECK (verdict IN ('first', 'second', 'both', 'neither', 'unsure')),
        comment       TEXT,
        heatmap_sha256 TEXT
    );
    CREATE INDEX review_by_item ON review(media_id, frame);

    CREATE TABLE prediction (
        id           INTEGER PRIMARY KEY,
        media_id     INTEGER NOT NULL REFERENCES media(id),
        frame        INTEGER NOT NULL CHECK (frame >= -1),
        model_sha256 TEXT NOT NULL,
        head         TEXT NOT NULL,
        class        TEXT NOT NULL,
        probability  REAL NOT NULL CHECK (probability >= 0 AND probability <= 1),
        created_at   TEXT NOT NULL,
        UNIQUE (media_id, frame, model_sha256, head, class)
    );

    CREATE TABLE heatmap (
        id           INTEGER PRIMARY KEY,
        sha256       TEXT NOT NULL,               -- of the map as a binary PGM (see HeatmapRecord)
        media_id     INTEGER NOT NULL REFERENCES media(id),
        frame        INTEGER NOT NULL CHECK (frame >= -1),
        model_sha256 TEXT NOT NULL,
        method       TEXT NOT NULL,
        target       TEXT NOT NULL,
        layer        TEXT NOT NULL,
        width        INTEGER NOT NULL CHECK (width > 0),
        height       INTEGER NOT NULL CHECK (height > 0),
        encoding     TEXT NOT NULL,
        data         BLOB NOT NULL,
        created_at   TEXT NOT NULL,
        UNIQUE (media_id, frame, model_sha256, method, target, layer)
    );
    CREATE INDEX heatmap_by_sha ON heatmap(sha256);

    \(["media", "media_path", "annotator", "session", "heatmap_context", "event", "review",
       "prediction", "heatmap"].map(appendOnly).joined(separator: "\n"))
    """
}

extension Schema {
    /// Readable current state for people who open the file with `sqlite3`: one row per item and
    /// annotator with the canonical CSV columns (`frame` NULL for a whole video), split into
    /// frame-level and video-level views, and current ratings with their heatmap context.
    static let migration2 = """
    CREATE VIEW label_current AS
    SELECT m.sha256 AS media_sha256,
           (SELECT p.path FROM media_path p WHERE p.media_id = c.media_id ORDER BY p.id DESC LIMIT 1) AS media_path,
           CASE WHEN c.frame < 0 THEN NULL ELSE c.frame END AS frame,
           a.name AS annotator,
           max(CASE WHEN c.field = 'a_lines' THEN c.value END) AS a_lines,
           max(CASE WHEN c.field = 'b1_lines' THEN c.value END) AS b1_lines,
           max(CASE WHEN c.field = 'b2_lines' THEN c.value END) AS b2_lines,
           max(CASE WHEN c.field = 'consolidation' THEN c.value END) AS consolidation,
           max(CASE WHEN c.field = 'severity' THEN c.value END) AS severity,
           max(CASE WHEN c.field = 'quality' THEN c.value END) AS quality,
           max(CASE WHEN c.field = 'note' THEN c.value END) AS note
    FROM current_value c JOIN media m ON m.id = c.media_id JOIN annotator a ON a.id = c.annotator_id
    WHERE c.context_id = 0
    GROUP BY c.media_id, c.frame, c.annotator_id
    HAVING count(c.value) > 0;
    CREATE VIEW frame_labels AS SELECT * FROM label_current WHERE frame IS NOT NULL;
    CREATE VIEW video_labels AS SELECT * FROM label_current WHERE frame IS NULL;
    CREATE VIEW rating_current AS
    SELECT m.sha256 AS media_sha256,
           CASE WHEN c.frame < 0 THEN NULL ELSE c.frame END AS frame,
           a.name AS annotator, h.model_sha256, h.method, h.layer, h.target, h.heatmap_sha256,
           max(CASE WHEN c.field = 'rating' THEN c.value END) AS rating,
           max(CASE WHEN c.field = 'comment' THEN c.value END) AS comment
    FROM current_value c JOIN media m ON m.id = c.media_id JOIN annotator a ON a.id = c.annotator_id
         JOIN heatmap_context h ON h.id = c.context_id
    WHERE c.context_id != 0
    GROUP BY c.media_id, c.frame, c.annotator_id, c.context_id
    HAVING count(c.value) > 0;
    """
}


extension Schema {
    /// Ratings with their full presentation (issue 10): which heatmap, drawn how (colormap,
    /// opacity, threshold), in which trial and slot, on which scale. `rating_context` ids are
    /// negative, so `event.context_id` tells the three kinds of event apart: 0 a label, > 0 a
    /// `heatmap_context` (ratings recorded before this migration), < 0 a `rating_context`.
    /// Settings are canonical text ('' = not recorded / none), so the UNIQUE key holds (NULLs
    /// would never compare equal). `rating_current` is rebuilt to cover both kinds and every answer.
    static let migrationRatingProvenance = """
    CREATE TABLE rating_context (
        id                 INTEGER PRIMARY KEY CHECK (id < 0),
        heatmap_context_id INTEGER NOT NULL REFERENCES heatmap_context(id),
        trial              TEXT NOT NULL,    -- the rate session's trial identity ('' none)
        slot               TEXT NOT NULL CHECK (slot IN ('', 'A', 'B')),
        scale              TEXT NOT NULL CHECK (scale IN ('seven', 'born')),
        colormap           TEXT NOT NULL,    -- '' when the overlay was not recorded
        opacity            TEXT NOT NULL,
        threshold          TEXT NOT NULL,    -- '' no threshold
        UNIQUE (heatmap_context_id, trial, slot, scale, colormap, opacity, threshold)
    );
    CREATE INDEX rating_context_by_trial ON rating_context(trial);
    \(appendOnly("rating_context"))
    DROP VIEW rating_current;
    CREATE VIEW rating_current AS
    SELECT m.sha256 AS media_sha256,
           (SELECT p.path FROM media_path p WHERE p.media_id = c.media_id ORDER BY p.id DESC LIMIT 1) AS media_path,
           CASE WHEN c.frame < 0 THEN NULL ELSE c.frame END AS frame,
           a.name AS annotator, h.model_sha256, h.method, h.layer, h.target, h.heatmap_sha256,
           coalesce(r.trial, '') AS trial, coalesce(r.slot, '') AS slot, coalesce(r.scale, 'seven') AS scale,
           coalesce(r.colormap, '') AS colormap, coalesce(r.opacity, '') AS opacity, coalesce(r.threshold, '') AS threshold,
           max(CASE WHEN c.field = 'rating' THEN c.value END) AS rating,
           max(CASE WHEN c.field = 'comment' THEN c.value END) AS comment,
           max(CASE WHEN c.field = 'class_guess' THEN c.value END) AS class_guess,
           max(CASE WHEN c.field = 'visible' THEN c.value END) AS visible,
           max(CASE WHEN c.field = 'highlighted' THEN c.value END) AS highlighted,
           max(CASE WHEN c.field = 'better' THEN c.value END) AS better,
           max(CASE WHEN c.field = 'seconds' THEN c.value END) AS seconds
    FROM current_value c JOIN media m ON m.id = c.media_id JOIN annotator a ON a.id = c.annotator_id
         LEFT JOIN rating_context r ON r.id = c.context_id
         JOIN heatmap_context h ON h.id = coalesce(r.heatmap_context_id, c.context_id)
    WHERE c.context_id != 0
    GROUP BY c.media_id, c.frame, c.annotator_id, c.context_id
    HAVING count(c.value) > 0;
    """

    /// `current_value` is derived from `event` and now as protected as the log itself: nothing may
    /// UPDATE or DELETE it, and an INSERT is accepted only when it states exactly the newest event
    /// of its key (what the event trigger writes). The maintaining trigger therefore uses INSERT
    /// OR REPLACE: the replaced row is removed by the conflict resolution, which fires no DELETE
    /// trigger while `recursive_triggers` is off (SQLite's default; Pleura never turns it on).
    /// So `UPDATE current_value SET value = …` in sqlite3 is refused, and a forged INSERT OR
    /// REPLACE can only restate the log. Dropping the triggers is still possible for someone with
    /// write access: `pleura store verify` (and `pleura doctor --store`) checks that the triggers
    /// are in place and recomputes the table from the log (``AnnotationStore/verifyCurrentState()``).
    static let migrationProtectCurrentValue = """
    DROP TRIGGER event_sets_current_value;
    CREATE TRIGGER event_sets_current_value AFTER INSERT ON event
    BEGIN
        INSERT OR REPLACE INTO current_value (media_id, frame, annotator_id, context_id, field, value, event_id)
        VALUES (NEW.media_id, NEW.frame, NEW.annotator_id, NEW.context_id, NEW.field, NEW.new_value, NEW.id);
    END;
    CREATE TRIGGER current_value_is_derived_update BEFORE UPDATE ON current_value
    BEGIN SELECT RAISE(ABORT, 'current_value is derived from the event log: append an event instead'); END;
    CREATE TRIGGER current_value_is_derived_delete BEFORE DELETE ON current_value
    BEGIN SELECT RAISE(ABORT, 'current_value is derived from the event log: it is never deleted'); END;
    CREATE TRIGGER current_value_is_derived_insert BEFORE INSERT ON current_value
    WHEN NOT EXISTS (SELECT 1 FROM event e
                     WHERE e.id = NEW.event_id AND e.media_id = NEW.media_id AND e.frame = NEW.frame
                       AND e.annotator_id = NEW.annotator_id AND e.context_id = NEW.context_id
                       AND e.field = NEW.field AND e.new_value IS NEW.value)
      OR EXISTS (SELECT 1 FROM event e
                 WHERE e.media_id = NEW.media_id AND e.frame = NEW.frame AND e.annotator_id = NEW.annotator_id
                   AND e.context_id = NEW.context_id AND e.field = NEW.field AND e.id > NEW.event_id)
    BEGIN SELECT RAISE(ABORT, 'current_value is derived from the event log: append an event instead'); END;
    """

    /// The triggers that keep the store's promises, by name: `pleura store verify` checks they
    /// are all present (someone with write access could drop one with sqlite3).
    static var protectingTriggers: [String] {
        ["media", "media_path", "annotator", "session", "heatmap_context", "rating_context", "event", "review",
         "prediction", "heatmap", "store_secret", "media_exam"]
            .flatMap { ["\($0)_is_append_only_update", "\($0)_is_append_only_delete"] }
            + ["event_sets_current_value", "current_value_is_derived_update", "current_value_is_derived_delete",
               "current_value_is_derived_insert"]
    }

    /// A prediction's uncertainty (issue 13): the standard deviation of the class's probability over
    /// the model's MC-dropout samples; NULL for models without one and for rows stored before.
    /// ADD COLUMN rewrites no row, so the table stays append-only.
    static let migrationPredictionUncertainty = """
    ALTER TABLE prediction ADD COLUMN uncertainty REAL CHECK (uncertainty IS NULL OR (uncertainty >= 0 AND uncertainty <= 1));
    """

    /// Exams and lung zones (issue 16). `store_secret` holds the store's own random key (32 bytes as
    /// hex, made by Swift when the store opens, see `AnnotationStore.ensureStoreSecret`); patient and
    /// study identifiers are kept only as HMAC-SHA256(secret, identifier). `media_exam` says which
    /// exam (and zone of which protocol) a medium belongs to, from a file-name pattern or DICOM;
    /// the newest row per medium holds. A zone set in the labelling screen is an event instead
    /// (field `zone`, whole clip), so it is undoable and attributed like a label.
    static let migrationExams = """
    CREATE TABLE store_secret (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        secret     TEXT NOT NULL CHECK (length(secret) = 64),
        created_at TEXT NOT NULL
    );
    CREATE TABLE media_exam (
        id        INTEGER PRIMARY KEY,
        media_id  INTEGER NOT NULL REFERENCES media(id),
        patient   TEXT NOT NULL CHECK (length(patient) = 64),
        study     TEXT NOT NULL,
        zone      TEXT,
        protocol  TEXT,
        source    TEXT NOT NULL CHECK (source IN ('pattern', 'dicom')),
        at        TEXT NOT NULL,
        os_user   TEXT NOT NULL,
        uid       INTEGER NOT NULL
    );
    CREATE INDEX media_exam_by_media ON media_exam(media_id, id);
    \(["store_secret", "media_exam"].map(appendOnly).joined(separator: "\n"))
    """
}
