import Foundation
import GRDB
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraStore

/// The rating API a rate screen uses (issue 10): trials with full provenance, answers, revisions,
/// undo, resume and blinding.
private struct RatingFixture {
    let base = try! Fixture()
    var store: AnnotationStore { base.store }
    let jet = OverlaySettings(colormap: "jet", opacity: 0.5, threshold: nil)
    let pocovid = OverlaySettings(colormap: "jet", opacity: 0.3, threshold: 0.4)

    func context(_ method: String, _ sha: String) -> HeatmapContext {
        HeatmapContext(modelSHA256: String(repeating: "a", count: 64), method: method, layer: "features.3",
                       target: "diagnosis/covid", heatmapSHA256: sha)
    }

    func single(_ frame: Int, scale: RatingScale = .seven) -> RatingTrial {
        RatingTrial(id: "panel/\(frame)", item: base.item(frame), scale: scale,
                    maps: [RatedMap(heatmap: context("gradcam", "h\(frame)"), overlay: jet)])
    }

    /// A paired trial of gradcam and layercam maps, gradcam in `gradcamSlot`.
    func paired(_ frame: Int, gradcamSlot: TrialSlot) -> RatingTrial {
        let other: TrialSlot = gradcamSlot == .a ? .b : .a
        let maps = [RatedMap(heatmap: context("gradcam", "g\(frame)"), overlay: jet, slot: gradcamSlot),
                    RatedMap(heatmap: context("layercam", "l\(frame)"), overlay: pocovid, slot: other)]
        return RatingTrial(id: "pair/\(frame)", item: base.item(frame), scale: .born,
                           maps: maps.sorted { $0.slot! < $1.slot! })
    }

    func rater(_ name: String) throws -> (Annotator, StoreSession) {
        let a = try store.annotator(named: name, role: .rater)
        return (a, try store.beginSession(annotator: a, name: "panel", mode: "rate"))
    }
}

private func r(_ v: Int) -> HeatmapRating { HeatmapRating(rawValue: v)! }

@Test func aRatingKeepsEveryProvenanceFieldAndAnswer() throws {
    let f = RatingFixture()
    let (rita, s) = try f.rater("rita")
    let trial = f.single(4)
    let answers = TrialAnswers(maps: [MapAnswers(rating: r(2), highlighted: [.bLines, .pleuralLine])],
                               classGuess: "covid", visible: [.bLines, .pleuralLine, .aLines], comment: "clear B-lines")
    let events = try f.store.recordRating(answers, for: trial, secondsSpent: 12.34, annotator: rita, session: s)
    #expect(Set(events.map(\.field)) == ["rating", "highlighted", "class_guess", "visible", "comment", "seconds"])
    #expect(Set(events.map(\.actionID)).count == 1)   // one action
    let rows = try f.store.ratings()
    #expect(rows.count == 1)
    let row = try #require(rows.first)
    #expect(row.heatmap == f.context("gradcam", "h4") && row.map.overlay == f.jet && row.map.slot == nil)
    #expect(row.trial == "panel/4" && row.scale == .seven && row.annotator == "rita")
    #expect(row.rating == r(2) && row.highlighted == [.bLines, .pleuralLine] && row.classGuess == "covid")
    #expect(row.visible == [.aLines, .bLines, .pleuralLine] && row.comment == "clear B-lines" && row.seconds == 12.3)
    // The readable view shows the same.
    let view = try f.store.read { db in
        try Row.fetchOne(db, sql: "SELECT trial, scale, colormap, opacity, threshold, rating, visible, highlighted, seconds FROM rating_current")
    }
    #expect(view?[0] as String? == "panel/4" && view?[1] as String? == "seven" && view?[2] as String? == "jet")
    #expect(view?[3] as String? == "0.5" && view?[4] as String? == "" && view?[5] as String? == "2")
    #expect(view?[6] as String? == "a_lines;b_lines;pleural_line" && view?[7] as String? == "b_lines;pleural_line")
    #expect(view?[8] as String? == "12.3")
}

@Test func aRevisionIsNewEventsAndUndoRestoresTheWholeAnswer() throws {
    let f = RatingFixture()
    let (rita, s) = try f.rater("rita")
    let trial = f.single(7)
    try f.store.recordRating(TrialAnswers(maps: [MapAnswers(rating: r(-1))], comment: "first look"), for: trial,
                             secondsSpent: 5, annotator: rita, session: s)
    let revision = try f.store.recordRating(TrialAnswers(maps: [MapAnswers(rating: r(3))], classGuess: "pneumonia"), for: trial,
                                            secondsSpent: 2.5, annotator: rita, session: s)
    #expect(Set(revision.map(\.field)) == ["rating", "class_guess", "comment", "seconds"])
    var now = try #require(try f.store.recordedTrial(id: trial.id, annotator: rita))
    #expect(now.answers.maps[0].rating == r(3) && now.answers.comment == nil && now.secondsSpent == 7.5)
    // History keeps both answers.
    let history = try f.store.history(item: trial.item).filter { $0.field == "rating" }.map(\.newValue)
    #expect(history == ["-1", "3"])
    // Undo appends inverse events for the whole revision.
    let undone = try f.store.undo(annotator: rita, session: s)
    #expect(undone.count == revision.count && undone.allSatisfy { $0.kind == .undo })
    now = try #require(try f.store.recordedTrial(id: trial.id, annotator: rita))
    #expect(now.answers.maps[0].rating == r(-1) && now.answers.comment == "first look" && now.answers.classGuess == nil)
    #expect(now.secondsSpent == 5)
    #expect(try f.store.verifyCurrentState() == 0)
}

@Test func pairedTrialsStoreEachRatersSlotsAndBetterNamesTheMap() throws {
    let f = RatingFixture()
    let (ann, s1) = try f.rater("ann"), (bob, s2) = try f.rater("bob")
    // ann saw gradcam in A, bob in B; both prefer the gradcam map.
    let forAnn = f.paired(9, gradcamSlot: .a), forBob = f.paired(9, gradcamSlot: .b)
    try f.store.recordRating(TrialAnswers(maps: [MapAnswers(rating: r(3)), MapAnswers(rating: r(-2))], better: .a),
                             for: forAnn, secondsSpent: 20, annotator: ann, session: s1)
    try f.store.recordRating(TrialAnswers(maps: [MapAnswers(rating: r(-1)), MapAnswers(rating: r(2))], better: .b),
                             for: forBob, secondsSpent: 30, annotator: bob, session: s2)
    let rows = try f.store.ratings()
    #expect(rows.count == 4)
    for row in rows {
        let gradcam = row.heatmap.method == "gradcam"
        #expect(row.map.slot == (row.annotator == "ann" ? (gradcam ? .a : .b) : (gradcam ? .b : .a)))
        #expect(row.preferred == gradcam, "\(row.annotator) preferred the gradcam map")
        #expect(row.map.overlay == (gradcam ? f.jet : f.pocovid))
    }
    // Read back as the rater saw it, and only that rater's answers (blinding).
    let annTrial = try #require(try f.store.recordedTrial(id: "pair/9", annotator: ann))
    #expect(annTrial.trial == forAnn && annTrial.answers.better == .a && annTrial.finished)
    #expect(annTrial.answers.maps.map(\.rating) == [r(3), r(-2)])
    let bobTrial = try #require(try f.store.recordedTrial(id: "pair/9", annotator: bob))
    #expect(bobTrial.trial == forBob && bobTrial.answers.maps.map(\.rating) == [r(-1), r(2)])   // A = layercam for bob
    #expect(try f.store.recordedTrial(id: "pair/9", annotator: f.store.annotator(named: "carol", role: .rater)) == nil)
}

@Test func resumeKnowsWhichTrialsARaterFinished() throws {
    let f = RatingFixture()
    let (ann, s) = try f.rater("ann"), (bob, _) = try f.rater("bob")
    for frame in [1, 2, 3] {
        try f.store.recordRating(TrialAnswers(maps: [MapAnswers(rating: r(frame - 2))]), for: f.single(frame),
                                 secondsSpent: 1, annotator: ann, session: s)
    }
    // A paired trial with one map rated is not finished; a comment alone is not a rating.
    try f.store.recordRating(TrialAnswers(maps: [MapAnswers(rating: r(1)), MapAnswers(rating: nil)]),
                             for: f.paired(4, gradcamSlot: .a), secondsSpent: 1, annotator: ann, session: s)
    try f.store.recordRating(TrialAnswers(maps: [MapAnswers(rating: nil)], comment: "come back"), for: f.single(5),
                             secondsSpent: 1, annotator: ann, session: s)
    #expect(try f.store.finishedTrials(annotator: ann) == ["panel/1", "panel/2", "panel/3"])
    #expect(try f.store.recordedTrials(annotator: ann).keys.sorted() == ["pair/4", "panel/1", "panel/2", "panel/3", "panel/5"])
    #expect(try f.store.finishedTrials(annotator: bob).isEmpty)
}

@Test func answersMustFitTheTrial() throws {
    let f = RatingFixture()
    let (ann, s) = try f.rater("ann")
    func refused(_ answers: TrialAnswers, _ trial: RatingTrial) -> String? {
        do { try f.store.recordRating(answers, for: trial, secondsSpent: 1, annotator: ann, session: s); return nil }
        catch let e as PleuraError { return e.reason } catch { return "\(error)" }
    }
    #expect(refused(TrialAnswers(maps: [MapAnswers(rating: r(0))]), f.single(1, scale: .born))?.contains("not on the born scale") == true)
    #expect(refused(TrialAnswers(maps: [MapAnswers(rating: r(1))], better: .a), f.single(1))?.contains("paired") == true)
    #expect(refused(TrialAnswers(maps: []), f.single(1))?.contains("answer") == true)
    var sameSlots = f.paired(2, gradcamSlot: .a)
    sameSlots.maps[1].slot = .a
    #expect(refused(TrialAnswers(maps: [MapAnswers(rating: r(1)), MapAnswers(rating: r(1))]), sameSlots)?.contains("slot A") == true)
    #expect(try f.store.eventCount() == 0)
    #expect(try f.store.ratings().isEmpty)
}

@Test func ratingContextsAreAppendOnly() throws {
    let f = RatingFixture()
    let (ann, s) = try f.rater("ann")
    try f.store.recordRating(TrialAnswers(maps: [MapAnswers(rating: r(1))]), for: f.single(1), secondsSpent: 1, annotator: ann, session: s)
    #expect(throws: DatabaseError.self) { try f.store.pool.write { try $0.execute(sql: "UPDATE rating_context SET slot = 'A'") } }
    #expect(throws: DatabaseError.self) { try f.store.pool.write { try $0.execute(sql: "DELETE FROM rating_context") } }
}

@Test func patternSetsHaveOneCanonicalText() throws {
    #expect(RatingPattern.text(of: [.otherTissue, .aLines, .effusion]) == "a_lines;effusion;other_tissue")
    #expect(RatingPattern.text(of: []) == "none")
    #expect(try RatingPattern.parse("none").get().isEmpty)
    #expect(try RatingPattern.parse("b_lines;consolidation").get() == [.bLines, .consolidation])
    if case .failure(let e) = RatingPattern.parse("b-lines") { #expect(e.message.hasPrefix("pattern 'b-lines'")) } else { Issue.record("accepted b-lines") }
    #expect(RatingScale.born.points.map(\.rawValue) == [-3, -2, -1, 1, 2, 3])
}
