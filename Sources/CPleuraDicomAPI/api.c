// Intentionally empty: this target only carries include/pleura_dicom.h, the C API of the DICOM
// shim (Sources/CPleuraDicom), so PleuraMedia can use its types without linking DCMTK.
