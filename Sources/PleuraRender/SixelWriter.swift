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
///
/// It runs for every playing frame, so it is written for speed: one output buffer grown by
/// doubling (no per-append checks), per-band scratch allocated once per image, and the per-pass
/// dynamic programme keeping its state in registers.
enum SixelWriter {
    /// `palette` are the colours as the terminal will show them (whole percent, see
    /// ``SixelPalette/representable(_:)``); every index must be below `palette.count` (≤ 256).
    static func write(indices: [UInt8], width: Int, height: Int, palette: [RGBColour]) -> [UInt8] {
        precondition(width > 0 && height > 0 && indices.count == width * height, "indexed image of the wrong size")
        precondition(palette.count <= 256 && !palette.isEmpty, "sixel palettes have 1–256 registers")
        var out = ByteSink(capacity: width * height / 3 + 4096)
        defer { out.free() }
        out.append([0x1B, UInt8(ascii: "P"), UInt8(ascii: "0"), UInt8(ascii: ";"), UInt8(ascii: "1"), UInt8(ascii: "q")])
        out.append(Array("\"1;1;\(width);\(height)".utf8))
        var used = [Bool](repeating: false, count: 256)
        for i in indices { used[Int(i)] = true }
        for (i, c) in palette.enumerated() where used[i] {
            func percent(_ v: UInt8) -> Int { (Int(v) * 100 + 127) / 255 }
            out.append(Array("#\(i);2;\(percent(c.r));\(percent(c.g));\(percent(c.b))".utf8))
        }
        // Per band: the six-bit column masks of every colour present, and per pass the bits that
        // later passes paint (free to set).
        let masks = UnsafeMutablePointer<UInt8>.allocate(capacity: 256 * width)
        masks.initialize(repeating: 0, count: 256 * width)
        let freeMasks = UnsafeMutablePointer<UInt8>.allocate(capacity: 256 * width)
        let free = UnsafeMutablePointer<UInt8>.allocate(capacity: width)
        defer { masks.deallocate(); freeMasks.deallocate(); free.deallocate() }
        var counts = [Int](repeating: 0, count: 256)
        var present: [Int] = []
        present.reserveCapacity(256)
        var pass = Pass(width: width)
        indices.withUnsafeBufferPointer { px in
            counts.withUnsafeMutableBufferPointer { counts in
                var y0 = 0
                while y0 < height {
                    let rows = min(6, height - y0)
                    present.removeAll(keepingCapacity: true)
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
                    free.update(repeating: 0, count: width)
                    for k in stride(from: present.count - 1, through: 0, by: -1) {
                        let fk = freeMasks + k * width
                        fk.update(from: free, count: width)
                        let own = masks + present[k] * width
                        for x in 0..<width { free[x] |= own[x] }
                    }
                    for (k, c) in present.enumerated() {
                        if k > 0 { out.append(UInt8(ascii: "$")) }
                        out.appendNumber(c, prefix: UInt8(ascii: "#"))
                        pass.write(own: masks + c * width, free: freeMasks + k * width, into: &out)
                    }
                    for c in present {
                        counts[c] = 0
                        (masks + c * width).update(repeating: 0, count: width)
                    }
                    y0 += 6
                    if y0 < height { out.append(UInt8(ascii: "-")) }
                }
            }
        }
        out.append([0x1B, 0x5C])
        return out.array
    }

    /// An output buffer of bytes: appends without Array's per-call checks, grown by doubling.
    struct ByteSink {
        private(set) var base: UnsafeMutablePointer<UInt8>
        private(set) var count = 0
        private var capacity: Int

        init(capacity: Int) {
            self.capacity = max(64, capacity)
            base = UnsafeMutablePointer<UInt8>.allocate(capacity: self.capacity)
        }

        func free() { base.deallocate() }

        var array: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

        @inline(__always) mutating func reserve(_ extra: Int) {
            guard count + extra > capacity else { return }
            var grown = capacity * 2
            while grown < count + extra { grown *= 2 }
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
            bigger.update(from: base, count: count)
            base.deallocate()
            base = bigger
            capacity = grown
        }

        @inline(__always) mutating func append(_ byte: UInt8) {
            reserve(1)
            base[count] = byte
            count += 1
        }

        mutating func append(_ bytes: [UInt8]) {
            reserve(bytes.count)
            for b in bytes { base[count] = b; count += 1 }
        }

        @inline(__always) mutating func append(_ byte: UInt8, times n: Int) {
            reserve(n)
            (base + count).update(repeating: byte, count: n)
            count += n
        }

        /// `prefix` then `n` in decimal (no String allocation: this runs for every pass and run).
        @inline(__always) mutating func appendNumber(_ n: Int, prefix: UInt8) {
            reserve(24)
            base[count] = prefix; count += 1
            if n >= 1000 { for d in String(n).utf8 { base[count] = d; count += 1 }; return }
            if n >= 100 { base[count] = UInt8(48 + n / 100); count += 1 }
            if n >= 10 { base[count] = UInt8(48 + n / 10 % 10); count += 1 }
            base[count] = UInt8(48 + n % 10); count += 1
        }
    }

    /// One colour's pass over a band: chooses, per column, either the colour's own bits or its own
    /// bits plus every free bit, minimising the run-length-coded size.
    struct Pass {
        let width: Int
        /// Per column and choice: the choice before it on the cheapest path (back-tracking).
        private var back: [UInt8]
        /// Per column: the chosen character's bits.
        private var chosen: [UInt8]

        init(width: Int) {
            self.width = width
            back = [UInt8](repeating: 0, count: 2 * width)
            chosen = [UInt8](repeating: 0, count: width)
        }

        /// Extra bytes for making a run one longer: `c`, `cc`, `ccc`, then `!4c` … `!9c` cost the
        /// same 3 bytes, `!10c` one more, and so on.
        @inline(__always) static func extend(_ length: Int32) -> Int32 {
            length <= 3 ? 1 : (length == 10 || length == 100 || length == 1000 || length == 10000 ? 1 : 0)
        }

        mutating func write(own: UnsafeMutablePointer<UInt8>, free: UnsafeMutablePointer<UInt8>, into out: inout ByteSink) {
            // Trailing columns without own pixels need no characters at all.
            var last = width - 1
            while last > 0 && own[last] == 0 { last -= 1 }
            // Choice 0 = own bits only, choice 1 = own bits plus every free bit. The cheapest
            // cost and its current run length per choice for the previous column live in
            // registers; ties prefer the longer run, then the earlier choice (as before).
            back.withUnsafeMutableBufferPointer { back in
                chosen.withUnsafeMutableBufferPointer { chosen in
                    var p0 = own[0], p1 = own[0] | free[0]
                    var cost0: Int32 = 1, cost1: Int32 = 1, run0: Int32 = 1, run1: Int32 = 1
                    if last > 0 {
                        for x in 1...last {
                            let c0 = own[x], c1 = c0 | free[x]
                            // Choice 0 at x, from 0 or 1 at x − 1.
                            func best(_ c: UInt8) -> (Int32, Int32, UInt8) {
                                let sameA = p0 == c, rA: Int32 = sameA ? run0 + 1 : 1
                                let tA = cost0 + (sameA ? Self.extend(rA) : 1)
                                let sameB = p1 == c, rB: Int32 = sameB ? run1 + 1 : 1
                                let tB = cost1 + (sameB ? Self.extend(rB) : 1)
                                // prev 0 first; prev 1 wins only if strictly cheaper or equal and longer.
                                if tB < tA || (tB == tA && rB > rA) { return (tB, rB, 1) }
                                return (tA, rA, 0)
                            }
                            if c0 == c1 {
                                // No free bit to add here (the usual case in late passes): both
                                // choices are the same character, so one step serves both.
                                let (n, q, f) = best(c0)
                                back[2 * x] = f; back[2 * x + 1] = f
                                cost0 = n; run0 = q; cost1 = n; run1 = q
                            } else {
                                let (n0, q0, f0) = best(c0)
                                let (n1, q1, f1) = best(c1)
                                back[2 * x] = f0; back[2 * x + 1] = f1
                                cost0 = n0; run0 = q0; cost1 = n1; run1 = q1
                            }
                            p0 = c0; p1 = c1
                        }
                    }
                    // Back-track the choices into the chosen characters.
                    var choice = cost0 <= cost1 ? 0 : 1
                    var x = last
                    while x >= 0 {
                        chosen[x] = choice == 0 ? own[x] : own[x] | free[x]
                        choice = Int(back[2 * x + choice])
                        x -= 1
                    }
                    // Emit runs.
                    x = 0
                    while x <= last {
                        let c = chosen[x]
                        var end = x + 1
                        while end <= last && chosen[end] == c { end += 1 }
                        let n = end - x
                        let byte = 0x3F + c
                        if n >= 4 {
                            out.appendNumber(n, prefix: UInt8(ascii: "!")); out.append(byte)
                        } else {
                            out.append(byte, times: n)
                        }
                        x = end
                    }
                }
            }
        }
    }
}
