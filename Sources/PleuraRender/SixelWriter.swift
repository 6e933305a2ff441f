/// Writes an indexed image as one sixel sequence, using overpainting to save bytes.
///
/// A sixel image is written in bands six pixels tall; within a band each colour is one pass
/// (`#n` then one character per column, six bits for the six pixels, `$` back to the band's
/// start). A later pass paints over an earlier one, which every sixel terminal does (the VT340
/// did; xterm, mlterm, foot, libsixel's decoder all do). So in a pass, the pixels that a *later*
/// pass paints are free: their bits may be set or not. The writer paints each band's colours from
/// the most to the least frequent and chooses the free bits per column (none, or all) by dynamic
/// programming so that the pass has the fewest bytes after run-length coding (`!N c`). The most
/// frequent colour becomes one run across the band, and gaps between a colour's pixels merge into
/// runs. On LUS speckle this writes about 30 % fewer bytes than libsixel's encoder for the same
/// indexed image (measured by `pleura bench --suite render`).
///
/// What the terminal shows is exactly the indexed image: every pixel's last pass is its own colour.
/// The sequence sets raster attributes (`"1;1;W;H`, square pixels) and defines only the registers
/// it uses. It never ends with a graphics new line (`-`), so the cursor stays on the image's last
/// band and nothing scrolls.
enum SixelWriter {
    /// `palette` are the colours as the terminal will show them (whole percent, see
    /// ``SixelPalette/representable(_:)``); every index must be below `palette.count` (≤ 256).
    static func write(indices: [UInt8], width: Int, height: Int, palette: [RGBColour]) -> [UInt8] {
        precondition(width > 0 && height > 0 && indices.count == width * height, "indexed image of the wrong size")
        precondition(palette.count <= 256 && !palette.isEmpty, "sixel palettes have 1–256 registers")
        var out: [UInt8] = []
        out.reserveCapacity(width * height / 3 + 4096)
        out += [0x1B, UInt8(ascii: "P"), UInt8(ascii: "0"), UInt8(ascii: ";"), UInt8(ascii: "1"), UInt8(ascii: "q")]
        out += Array("\"1;1;\(width);\(height)".utf8)
        var used = [Bool](repeating: false, count: 256)
        for i in indices { used[Int(i)] = true }
        for (i, c) in palette.enumerated() where used[i] {
            func percent(_ v: UInt8) -> Int { (Int(v) * 100 + 127) / 255 }
            out += Array("#\(i);2;\(percent(c.r));\(percent(c.g));\(percent(c.b))".utf8)
        }
        // Per band: the six-bit column masks of every colour present.
        var masks = [UInt8](repeating: 0, count: 256 * width)
        var free = [UInt8](repeating: 0, count: width)
        var counts = [Int](repeating: 0, count: 256)
        var pass = Pass(width: width)
        indices.withUnsafeBufferPointer { px in
            masks.withUnsafeMutableBufferPointer { masks in
                var y0 = 0
                while y0 < height {
                    let rows = min(6, height - y0)
                    var present: [Int] = []
                    for r in 0..<rows {
                        let row = (y0 + r) * width
                        let bit = UInt8(1 << r)
                        for x in 0..<width {
                            let c = Int(px[row + x])
                            if counts[c] == 0 { present.append(c) }
                            counts[c] += 1
                            masks[c * width + x] |= bit
                        }
                    }
                    // Most frequent first: the early passes have the most free bits.
                    present.sort { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }
                    // Free bits of pass k = the union of the masks of passes k+1…, built from the end.
                    var freeMasks = [[UInt8]](repeating: [], count: present.count)
                    for x in 0..<width { free[x] = 0 }
                    for k in stride(from: present.count - 1, through: 0, by: -1) {
                        freeMasks[k] = free
                        let base = present[k] * width
                        for x in 0..<width { free[x] |= masks[base + x] }
                    }
                    for (k, c) in present.enumerated() {
                        if k > 0 { out.append(UInt8(ascii: "$")) }
                        Self.appendNumber(c, prefix: UInt8(ascii: "#"), to: &out)
                        let own = UnsafeBufferPointer(rebasing: masks[(c * width)..<((c + 1) * width)])
                        pass.write(own: own, free: freeMasks[k], into: &out)
                    }
                    for c in present {
                        counts[c] = 0
                        for x in 0..<width { masks[c * width + x] = 0 }
                    }
                    y0 += 6
                    if y0 < height { out.append(UInt8(ascii: "-")) }
                }
            }
        }
        out += [0x1B, 0x5C]
        return out
    }

    /// `prefix` then `n` in decimal (no String allocation: this runs for every pass and run).
    @inline(__always) static func appendNumber(_ n: Int, prefix: UInt8, to out: inout [UInt8]) {
        out.append(prefix)
        if n >= 1000 { out += Array(String(n).utf8); return }
        if n >= 100 { out.append(UInt8(48 + n / 100)) }
        if n >= 10 { out.append(UInt8(48 + n / 10 % 10)) }
        out.append(UInt8(48 + n % 10))
    }

    /// One colour's pass over a band: chooses, per column, either the colour's own bits or its own
    /// bits plus every free bit, minimising the run-length-coded size.
    struct Pass {
        let width: Int
        /// Per column and choice: total cost so far, current run length, the choice before.
        private var cost: [Int32], run: [Int32], back: [UInt8]
        /// Per column: the two candidate characters' bits.
        private var chars: [UInt8] = []

        init(width: Int) {
            self.width = width
            cost = [Int32](repeating: 0, count: 2 * width)
            run = [Int32](repeating: 0, count: 2 * width)
            back = [UInt8](repeating: 0, count: 2 * width)
        }

        /// Extra bytes for making a run one longer: `c`, `cc`, `ccc`, then `!4c` … `!9c` cost the
        /// same 3 bytes, `!10c` one more, and so on.
        @inline(__always) static func extend(_ length: Int32) -> Int32 {
            length <= 3 ? 1 : (length == 10 || length == 100 || length == 1000 || length == 10000 ? 1 : 0)
        }

        mutating func write(own: UnsafeBufferPointer<UInt8>, free: [UInt8], into out: inout [UInt8]) {
            // Trailing columns without own pixels need no characters at all.
            var last = width - 1
            while last > 0 && own[last] == 0 { last -= 1 }
            if chars.count < 2 * width { chars = [UInt8](repeating: 0, count: 2 * width) }
            // chars[2x] = own bits only, chars[2x+1] = own bits plus every free bit.
            for x in 0...last { chars[2 * x] = own[x]; chars[2 * x + 1] = own[x] | free[x] }
            chars.withUnsafeBufferPointer { ch in
                cost.withUnsafeMutableBufferPointer { cost in
                    run.withUnsafeMutableBufferPointer { run in
                        back.withUnsafeMutableBufferPointer { back in
                            cost[0] = 1; cost[1] = 1; run[0] = 1; run[1] = 1
                            if last == 0 { return }
                            for x in 1...last {
                                for choice in 0..<2 {
                                    let c = ch[2 * x + choice]
                                    var best = Int32.max, bestRun: Int32 = 0, from: UInt8 = 0
                                    for prev in 0..<2 {
                                        let p = 2 * (x - 1) + prev
                                        let same = ch[p] == c
                                        let r: Int32 = same ? run[p] + 1 : 1
                                        let total = cost[p] + (same ? Self.extend(r) : 1)
                                        if total < best || (total == best && r > bestRun) { best = total; bestRun = r; from = UInt8(prev) }
                                    }
                                    cost[2 * x + choice] = best; run[2 * x + choice] = bestRun; back[2 * x + choice] = from
                                }
                            }
                        }
                    }
                }
            }
            func char(_ x: Int, _ choice: Int) -> UInt8 { chars[2 * x + choice] }
            // Back-track the choices, then emit runs.
            var choices = [UInt8](repeating: 0, count: last + 1)
            var choice = cost[2 * last] <= cost[2 * last + 1] ? 0 : 1
            for x in stride(from: last, through: 0, by: -1) {
                choices[x] = UInt8(choice)
                choice = Int(back[2 * x + choice])
            }
            var x = 0
            while x <= last {
                let c = char(x, Int(choices[x]))
                var end = x + 1
                while end <= last && char(end, Int(choices[end])) == c { end += 1 }
                let n = end - x
                let byte = 0x3F + c
                if n >= 4 {
                    SixelWriter.appendNumber(n, prefix: UInt8(ascii: "!"), to: &out); out.append(byte)
                } else {
                    for _ in 0..<n { out.append(byte) }
                }
                x = end
            }
        }
    }
}
