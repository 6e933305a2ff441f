import Testing
@testable import PleuraModel

@Test func camMethodNamesParse() {
    #expect(CAMMethod(name: "Grad-CAM++") == .gradcampp)
    #expect(CAMMethod(name: "layercam") == .layercam)
    #expect(CAMMethod(name: "pocovid")?.threshold == 0.4)
    #expect(CAMMethod(name: "saliency") == nil)
}
