import Foundation
import PleuraCore

/// A trainee's agreement with the reference, from their review rows: per field overall (share
/// agreeing, Cohen's kappa, F1 for findings, quadratic kappa for severity) and per day (the
/// progress over time the review screen and `pleura report review` show).
///
/// ```swift
/// let p = ReviewProgress(trainee: "kim", reviews: try store.reviews().filter { $0.annotatorID == kim.id })
/// p.severityQuadraticKappa
/// ```
public struct ReviewProgress: Sendable, Equatable {
    public struct FieldScore: Sendable, Equatable {
        public var field: ReviewField
        /// Answers compared with a reference value.
        public var n: Int
        public var agreement: Double?
        public var cohenKappa: Double?
        /// Findings: F1 of the trainee's "present" against the reference's.
        public var f1: Double?
        /// Severity only.
        public var quadraticKappa: Double?
        /// counts[reference][trainee].
        public var confusion: [[Int]]
    }

    public struct Period: Sendable, Equatable {
        /// The day (`YYYY-MM-DD`, UTC as the store writes times).
        public var day: String
        /// Items answered that day.
        public var items: Int
        /// Share of answered fields agreeing with the reference.
        public var agreement: Double?
        public var severityN: Int
        public var severityQuadraticKappa: Double?
    }

    public var trainee: String
    public var items: Int
    public var fields: [FieldScore]
    public var periods: [Period]
    public var reviewed: Int
    public var notes: Int
    public var flags: Int

    public var severityQuadraticKappa: Double? { fields.first { $0.field == .severity }?.quadraticKappa }

    /// From one trainee's reviews (answer rows: field a ``ReviewField``, the reference's value as
    /// `first_value`, the trainee's as `own_value`; mark rows: `reviewed`, `note`, `reference_flag`).
    public init(trainee: String, reviews: [Review]) {
        self.trainee = trainee
        let answers = reviews.compactMap { r -> (day: String, item: ItemRef, field: ReviewField, own: Int, ref: Int)? in
            guard let f = ReviewField(rawValue: r.field), let own = r.ownValue.flatMap(Int.init), let ref = r.firstValue.flatMap(Int.init) else { return nil }
            return (String((r.at ?? "").prefix(10)), r.item, f, own, ref)
        }
        items = Set(reviews.filter { ReviewField(rawValue: $0.field) != nil }.map(\.item)).count
        reviewed = reviews.filter { $0.field == ReviewMark.reviewed.rawValue }.count
        notes = reviews.filter { $0.field == ReviewMark.note.rawValue }.count
        flags = reviews.filter { $0.field == ReviewMark.referenceFlag.rawValue }.count
        fields = ReviewField.humanFields.compactMap { field in
            let pairs = answers.filter { $0.field == field }
            guard !pairs.isEmpty else { return nil }
            let categories = field == .severity ? [0, 1, 2, 3] : [0, 1]
            let ref = pairs.map(\.ref), own = pairs.map(\.own)
            let cm = ConfusionMatrix(truth: ref, predicted: own, classes: categories)
            return FieldScore(field: field, n: pairs.count, agreement: cm.accuracy,
                              cohenKappa: Agreement.cohenKappa(ref, own, categories: categories),
                              f1: field == .severity ? nil : cm.perClass[1].f1,
                              quadraticKappa: field == .severity ? Agreement.cohenKappa(ref, own, categories: categories, weighting: .quadratic) : nil,
                              confusion: cm.counts)
        }
        periods = Set(answers.map(\.day)).sorted().map { day in
            let that = answers.filter { $0.day == day }
            let sev = that.filter { $0.field == .severity }
            return Period(day: day, items: Set(that.map(\.item)).count,
                          agreement: Double(that.filter { $0.own == $0.ref }.count) / Double(that.count),
                          severityN: sev.count,
                          severityQuadraticKappa: sev.isEmpty ? nil : Agreement.cohenKappa(sev.map(\.ref), sev.map(\.own), categories: [0, 1, 2, 3], weighting: .quadratic))
        }
    }
}

/// The field names review rows use for marks (answers use ``ReviewField`` raw values).
public enum ReviewMark: String, CaseIterable, Sendable {
    /// The trainee looked at the item ("mark reviewed").
    case reviewed
    /// A free-text note (in the review's comment).
    case note
    /// "The reference may be wrong": exported with the reviews for an expert to look at.
    case referenceFlag = "reference_flag"
}
