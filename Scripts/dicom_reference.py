#!/usr/bin/env python3
"""pydicom's decode of DICOM files, the oracle of Pleura's DICOM tests (Tests/PleuraMediaTests/
DicomReaderTests.swift, Tests/PleuraCLITests/DicomPrivacyCLITests.swift). Run in a throwaway venv
with pydicom, pydicom-data, pylibjpeg, pylibjpeg-libjpeg, pylibjpeg-openjpeg, pylibjpeg-rle, numpy.

  decode FILE OUT      OUT.json (frames, fps, rows, columns, photometric, transfer syntax) and
                       OUT.rgb (every frame as 8-bit RGB, rows top to bottom)
  testdata             the pydicom-data / pydicom test files that are ultrasound or multi-frame,
                       one path per line
  relabel IN OUT UID    copies IN (encapsulated pixel data) with its meta header's transfer
                       syntax set to UID, for the refusal of syntaxes Pleura cannot decode
  make FRAMES W H N OUT_DIR [--patient NAME ID BIRTHDATE]
                       writes multi-frame US files from N raw RGB frames: explicit.dcm,
                       implicit.dcm, rle.dcm (pydicom's RLE encoder), mono.dcm (MONOCHROME2,
                       explicit) and patient.dcm (explicit, with the given patient attributes)

The mapping to 8-bit RGB is the one Pleura documents: YBR converted to RGB (pydicom's default),
PALETTE COLOR through its table (16-bit entries: the high byte), samples of more or fewer than 8
stored bits shifted to 8 (the high 8 bits), MONOCHROME copied to R, G and B. This is what DCMTK's
rendering without a VOI window gives (checked bit for bit on the pydicom test files).
"""
import json
import os
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_color_lut
from pydicom.uid import (ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless, generate_uid)


def fps_of(ds):
    for keyword in ("FrameTime",):
        v = ds.get(keyword)
        if v not in (None, "") and float(v) > 0:
            return 1000.0 / float(v)
    for keyword in ("CineRate", "RecommendedDisplayFrameRate"):
        v = ds.get(keyword)
        if v not in (None, "") and float(v) > 0:
            return float(v)
    return 0.0


def rgb_frames(ds):
    a = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    pi = ds.PhotometricInterpretation
    if frames == 1:
        a = a[None]
    if pi == "PALETTE COLOR":
        a = apply_color_lut(a, ds)
        if a.dtype != np.uint8:
            a = (a >> 8).astype(np.uint8)
    else:
        bits = int(ds.BitsStored)
        v = a.astype(np.int64)
        a = (v >> (bits - 8)) if bits > 8 else (v << (8 - bits))
        if pi == "MONOCHROME1":
            a = 255 - a
        if a.ndim == 3:
            a = np.stack([a] * 3, -1)
    return np.ascontiguousarray(a.astype(np.uint8))


def decode(path, out):
    ds = pydicom.dcmread(path)
    a = rgb_frames(ds)
    with open(out + ".rgb", "wb") as f:
        f.write(a.tobytes())
    meta = {"frames": int(a.shape[0]), "rows": int(a.shape[1]), "columns": int(a.shape[2]),
            "fps": fps_of(ds), "photometric": str(ds.PhotometricInterpretation),
            "transferSyntax": str(ds.file_meta.TransferSyntaxUID)}
    with open(out + ".json", "w") as f:
        json.dump(meta, f)


def testdata():
    import glob
    import data_store
    import pydicom.data
    roots = [os.path.join(os.path.dirname(data_store.__file__), "data"),
             os.path.join(os.path.dirname(pydicom.data.__file__), "test_files")]
    for root in roots:
        for path in sorted(glob.glob(os.path.join(root, "*.dcm"))):
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                frames = int(ds.get("NumberOfFrames", 1) or 1)
            except Exception:
                continue
            if ds.get("Modality") == "US" or frames > 1:
                print(path)


def base_dataset(rows, columns, frames, fps):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"  # Ultrasound Multi-frame Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "US"
    ds.Manufacturer = "Pleura phantom"
    ds.Rows, ds.Columns = rows, columns
    ds.NumberOfFrames = frames
    ds.FrameTime = f"{1000.0 / fps:.3f}"
    ds.FrameIncrementPointer = 0x00181063
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PlanarConfiguration = 0
    region = Dataset()
    region.RegionSpatialFormat = 1
    region.RegionDataType = 1
    region.RegionFlags = 0
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 8, 4
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = columns - 9, rows - 5
    ds.SequenceOfUltrasoundRegions = [region]
    return ds


def make(frames_path, width, height, count, out_dir, patient):
    raw = np.fromfile(frames_path, dtype=np.uint8).reshape(count, height, width, 3)
    os.makedirs(out_dir, exist_ok=True)

    def colour():
        ds = base_dataset(height, width, count, 20)
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PixelData = raw.tobytes()
        return ds

    ds = colour()
    ds.save_as(os.path.join(out_dir, "explicit.dcm"), enforce_file_format=True)
    ds = colour()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(os.path.join(out_dir, "implicit.dcm"), implicit_vr=True, little_endian=True, enforce_file_format=True)
    ds = colour()
    ds.compress(RLELossless, encoding_plugin="pydicom")
    ds.save_as(os.path.join(out_dir, "rle.dcm"), enforce_file_format=True)
    ds = base_dataset(height, width, count, 20)
    ds.SamplesPerPixel = 1
    del ds.PlanarConfiguration
    ds.PhotometricInterpretation = "MONOCHROME2"
    grey = np.round(raw @ np.array([0.299, 0.587, 0.114])).clip(0, 255).astype(np.uint8)
    ds.PixelData = grey.tobytes()
    ds.save_as(os.path.join(out_dir, "mono.dcm"), enforce_file_format=True)
    if patient:
        ds = colour()
        ds.PatientName, ds.PatientID, ds.PatientBirthDate = patient
        ds.OtherPatientIDs = patient[1] + "-OTHER"
        ds.StudyDate = "20240229"
        ds.ProtocolName = "R3 lateral"
        ds.save_as(os.path.join(out_dir, "patient.dcm"), enforce_file_format=True)


def main(argv):
    if argv[0] == "decode":
        decode(argv[1], argv[2])
    elif argv[0] == "testdata":
        testdata()
    elif argv[0] == "relabel":
        ds = pydicom.dcmread(argv[1])
        ds.file_meta.TransferSyntaxUID = argv[3]
        ds.save_as(argv[2], enforce_file_format=True)
    elif argv[0] == "make":
        patient = None
        if "--patient" in argv:
            i = argv.index("--patient")
            patient = tuple(argv[i + 1:i + 4])
            argv = argv[:i]
        make(argv[1], int(argv[2]), int(argv[3]), int(argv[4]), argv[5], patient)
    else:
        sys.exit(f"unknown command {argv[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
