"""Read 3D face scans (NPHM, FaceScape, Ava256 layouts) in metres and FLAME's frame, and
(the synthetic data sets in the same layouts live in the top-level ``synthetic`` package)."""

from scans.datasets import ADAPTERS, adapter_for, list_scans, load_photos, load_scan
from scans.errors import ScanError
from scans.records import Photo, Scan, ScanRecord

__all__ = ["ADAPTERS", "Photo", "Scan", "ScanError", "ScanRecord", "adapter_for", "list_scans",
           "load_photos", "load_scan"]
