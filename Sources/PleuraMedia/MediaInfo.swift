/// What `pleura probe` says about a media file; the same facts the store records when media are
/// added. Still images are one-frame media (`kind == "image"`).
///
/// ```swift
/// let info = try MediaReader.probe(path: "clip.mp4")
/// print(info.frames, info.fps)      // 495 19.04
/// ```
public struct MediaInfo: Codable, Equatable, Sendable {
    /// The path as given by the caller.
    public var path: String
    /// `"video"` or `"image"`.
    public var kind: String
    /// FFmpeg's codec name: `h264`, `mpeg4`, `mpeg2video`, `gif`, `mjpeg`, `png`, …
    public var codec: String
    public var width: Int
    public var height: Int
    /// Average frame rate from the container (frames per second; 0 when it gives none).
    public var fps: Double
    /// Number of frames: exactly the number FFmpeg decodes from the file (`ffmpeg -i F -map 0:v:0
    /// -f null -`), so frame indices 0..<frames are valid.
    public var frames: Int
    /// Lower-case hex SHA-256 of the file's bytes.
    public var sha256: String
    /// For DICOM files (`codec` `dicom-…`): transfer syntax, photometric interpretation, modality,
    /// manufacturer, ultrasound regions; nil (and absent from probe's JSON) for other files.
    /// `fps` then comes from Frame Time (0018,1063), else Cine Rate (0018,0040), else Recommended
    /// Display Frame Rate (0008,2144).
    public var dicom: DicomInfo?

    public init(path: String, kind: String, codec: String, width: Int, height: Int, fps: Double,
                frames: Int, sha256: String, dicom: DicomInfo? = nil) {
        self.path = path; self.kind = kind; self.codec = codec; self.width = width; self.height = height
        self.fps = fps; self.frames = frames; self.sha256 = sha256; self.dicom = dicom
    }
}
