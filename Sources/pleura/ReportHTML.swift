import Foundation
import PleuraCore

/// The pieces every `pleura report` page is made of: one self-contained HTML document (inline
/// CSS, inline SVG, no script, nothing fetched), escaped text, numbers, sections.
enum ReportHTML {
    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(esc(title))</title>
        <style>
        body { font-family: -apple-system, "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px 32px; color: #222; max-width: 1100px; }
        h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 4px; border-bottom: 1px solid #ccc; }
        p.meta, p.note { color: #555; font-size: 13px; margin: 4px 0 8px; } p.legend { font-size: 12px; }
        table { border-collapse: collapse; font-size: 12px; margin: 8px 0; } td, th { padding: 2px 8px; text-align: right; border-bottom: 1px solid #eee; }
        td:first-child, th:first-child { text-align: left; } th { background: #f4f4f4; }
        svg.chart { display: block; margin: 6px 0; } svg text { font-size: 11px; fill: #222; }
        .swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin: 0 3px 0 10px; }
        .row { display: flex; flex-wrap: wrap; gap: 18px; }
        </style></head><body>
        \(body)
        </body></html>

        """
    }

    /// Text for HTML: sanitised (no control characters), with `& < > "` escaped.
    static func esc(_ s: String) -> String {
        var out = ""
        for c in SafeText.sanitize(s) {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    static func f(_ d: Double?, _ digits: Int = 2) -> String { d.map { String(format: "%.\(digits)f", $0) } ?? "—" }

    static func section(_ heading: String, _ note: String, _ content: String) -> String {
        "<h2>\(esc(heading))</h2>\n<p class=\"note\">\(esc(note))</p>\n\(content)\n"
    }
}
