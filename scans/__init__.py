"""Read 3D face scans (NPHM, FaceScape, Ava256 layouts) in metres and FLAME's frame, and
write synthetic data sets in the same layouts with ground truth kept aside."""

from scans.datasets import ADAPTERS, adapter_for, list_scans
from scans.errors import ScanError
from scans.records import Photo, Scan, ScanRecord

__all__ = ["ADAPTERS", "Photo", "Scan", "ScanError", "ScanRecord", "adapter_for", "list_scans"]
