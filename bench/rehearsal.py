"""The 1% rehearsal (issue 14): configs/rehearsal.cfg on a real Dask cluster, measured.

Usage::

    python bench/rehearsal.py [--config configs/rehearsal.cfg] [--out bench/out/rehearsal]
                              [--workers 2] [--kill-seed 0 | --no-kill]
                              [--rerender --datasets D ...] [--tail-only]

Starts ``dask scheduler`` and ``--workers`` ``dask worker`` processes (one thread each,
LP_NUM_THREADS=1), as a user would, and runs the build's stages one Luigi invocation at a time
against that cluster: synthesize, register, render, verify (each data set), then reads the
whole shard set once through ``ShardDataset`` with a ``DataLoader`` and trains the tiny
predictor for one pass over it. A monitor samples every worker process's RSS and CPU time
each second and counts finished samples (the shards' sidecar records). Unless ``--no-kill``,
one worker process is killed with SIGKILL at a random moment of the render stages (a seeded
random count of finished samples, then a random 0-5 s); its nanny starts a new one and Dask
re-runs the lost task.

``--rerender`` is the undisturbed comparison, in the same build folder (shard keys hash the
scans' file paths, so another folder could not give the same manifest): it moves each data
set's shards to ``shards-disturbed/<dataset>``, renders and verifies them again on a fresh
cluster without a kill, and compares the two ``manifest.json`` byte for byte.
``--tail-only`` then reruns the loader and training passes and the table from the saved
``stages.json``.

Prints one Markdown table (per stage: scans or samples per wall second and per CPU-second of
the workers and the client, worker RSS, shards, manifest and verification time, loader and
training rates, the projection to 976K samples) and writes ``<out>/rehearsal.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TOTAL_SAMPLES = 976_000
TOTAL_SCANS = 7_800
RSS_EARLY_SAMPLES = 500


def config_value(config: Path, section: str, key: str) -> str:
    """The config file's value, else the build's default (configs hold only changes)."""
    from configparser import ConfigParser

    import pipeline.config
    parser = ConfigParser()
    parser.read(config)
    if parser.has_option(section, key):
        return parser.get(section, key)
    default = getattr(getattr(pipeline.config, section), key)._default
    return json.dumps(list(default)) if isinstance(default, tuple | list) else str(default)


class Cluster:
    """A ``dask scheduler`` and ``n`` ``dask worker`` processes on 127.0.0.1 (each worker
    CLI process is a nanny that restarts its worker process when it dies)."""

    def __init__(self, n_workers: int, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        scheduler_file = folder / "scheduler.json"
        scheduler_file.unlink(missing_ok=True)
        bin_dir = Path(sys.executable).parent
        env = {**os.environ, "PYTHONPATH": str(REPO), "LP_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.logs = [open(folder / "scheduler.log", "w")]  # noqa: SIM115 (closed in stop)
        self.scheduler = subprocess.Popen(
            [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--dashboard-address", ":0", "--scheduler-file", str(scheduler_file)],
            cwd=REPO, env=env, stdout=self.logs[0], stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        self.address = json.loads(scheduler_file.read_text())["address"]
        self.nannies = []
        for index in range(n_workers):
            self.logs.append(open(folder / f"worker-{index}.log", "w"))  # noqa: SIM115
            self.nannies.append(subprocess.Popen(
                [str(bin_dir / "dask"), "worker", self.address, "--nthreads", "1",
                 "--nworkers", "1", "--host", "127.0.0.1", "--dashboard-address", ":0",
                 "--name", f"worker-{index}"],
                cwd=REPO, env=env, stdout=self.logs[-1], stderr=subprocess.STDOUT))
        self._wait_for_workers(n_workers)

    def _wait_for_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(n, timeout=120)

    def worker_processes(self) -> dict[int, list[psutil.Process]]:
        """Live processes under each nanny (the worker process and its helpers), by index."""
        out = {}
        for index, nanny in enumerate(self.nannies):
            try:
                out[index] = psutil.Process(nanny.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                out[index] = []
        return out

    def stop(self) -> None:
        for proc in [*self.nannies, self.scheduler]:
            proc.terminate()
        for proc in [*self.nannies, self.scheduler]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self.logs:
            log.close()


class Monitor(threading.Thread):
    """Samples each worker's RSS and CPU seconds and the finished-sample count every second."""

    def __init__(self, cluster: Cluster, shards_root: Path, period_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.cluster, self.shards_root, self.period_s = cluster, shards_root, period_s
        self.series: list[dict] = []  # {"t", "samples", "rss": {worker: bytes}}
        self.cpu_by_pid: dict[int, float] = {}
        self._sidecars: dict[str, int] = {}
        self._halt = threading.Event()

    def samples_done(self) -> int:
        for sidecar in self.shards_root.glob("*/shard-*.h5.json"):
            key = str(sidecar)
            if key not in self._sidecars:
                try:
                    self._sidecars[key] = json.loads(sidecar.read_text())["samples"]
                except (OSError, ValueError, KeyError):
                    continue
        return sum(self._sidecars.values())

    def worker_cpu_s(self) -> float:
        """CPU seconds of every worker process seen so far (killed ones included)."""
        return sum(self.cpu_by_pid.values())

    def run(self) -> None:
        start = time.perf_counter()
        while not self._halt.is_set():
            rss = {}
            for index, procs in self.cluster.worker_processes().items():
                total = 0
                for proc in procs:
                    try:
                        info = proc.as_dict(["memory_info", "cpu_times"])
                        total += info["memory_info"].rss
                        times = info["cpu_times"]
                        self.cpu_by_pid[proc.pid] = times.user + times.system
                    except (psutil.NoSuchProcess, psutil.AccessDenied, TypeError):
                        continue
                rss[index] = total
            self.series.append({"t": time.perf_counter() - start,
                                "samples": self.samples_done(), "rss": rss})
            self._halt.wait(self.period_s)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def luigi_stage(task: list[str], config: Path, out: Path, scheduler: str, log: Path) -> float:
    """Run one Luigi invocation against the cluster; returns its wall seconds."""
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "luigi", "--module", "pipeline", *task,
               "--local-scheduler", "--build-out-dir", str(out),
               "--build-dask-scheduler", scheduler]
    start = time.perf_counter()
    with open(log, "a") as stream:
        stream.write(f"\n$ {' '.join(command)}\n")
        stream.flush()
        result = subprocess.run(command, cwd=REPO, env=env, stdout=stream,
                                stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(task)} failed ({result.returncode}); see {log}")
    return time.perf_counter() - start


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Killer(threading.Thread):
    """SIGKILL one worker process once ``target`` samples are finished and a random delay."""

    def __init__(self, cluster: Cluster, monitor: Monitor, target: int, delay_s: float,
                 rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.cluster, self.monitor, self.target, self.delay_s = cluster, monitor, target, delay_s
        self.rng = rng
        self.killed: dict | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set() and self._done() < self.target:
            self._halt.wait(0.5)
        if self._halt.wait(self.delay_s):
            return
        index = self.rng.randrange(len(self.cluster.nannies))
        procs = self.cluster.worker_processes()[index]
        if not procs:
            return
        victim = max(procs, key=_rss)  # the worker process, not its resource tracker
        os.kill(victim.pid, signal.SIGKILL)
        self.killed = {"worker": index, "pid": victim.pid, "samples_done": self._done(),
                       "at": time.time()}
        print(f"[rehearsal] kill -9 worker-{index} (pid {victim.pid}) after "
              f"{self.killed['samples_done']} samples", flush=True)

    def _done(self) -> int:
        return self.monitor.series[-1]["samples"] if self.monitor.series else 0

    def stop(self) -> None:
        self._halt.set()


def _rss(proc: psutil.Process) -> int:
    try:
        return proc.memory_info().rss
    except psutil.NoSuchProcess:
        return 0


def count_samples_planned(build: Path, config: Path, datasets: list[str]) -> int:
    """At least this many samples will be rendered: registered scans x sampled views."""
    views = int(config_value(config, "render", "views_per_scan"))
    registered = 0
    for dataset in datasets:
        summary = json.loads((build / "registration" / dataset / "summary.json").read_text())
        registered += len(summary["registered_ids"])
    return views * registered


def rss_flatness(series: list[dict], render_span: tuple[float, float]) -> dict[int, dict]:
    """Per worker: peak RSS (MB) while the first RSS_EARLY_SAMPLES samples were written, and
    after them to the end of the render stages."""
    inside = [s for s in series if render_span[0] <= s["t"] <= render_span[1]]
    if not inside:
        return {}
    first = inside[0]["samples"]
    out = {}
    for worker in inside[0]["rss"]:
        early = [s["rss"].get(worker, 0) for s in inside
                 if s["samples"] - first <= RSS_EARLY_SAMPLES]
        late = [s["rss"].get(worker, 0) for s in inside
                if s["samples"] - first > RSS_EARLY_SAMPLES]
        out[worker] = {"early_peak_mb": max(early) / 1e6 if early else None,
                       "late_peak_mb": max(late) / 1e6 if late else None}
    return out


def rss_by_render_stage(series: list[dict], stages: list[dict]) -> list[dict]:
    """Per render stage and worker: peak RSS (MB) in each quarter of the stage's samples."""
    rows = []
    for row in stages:
        if not row["stage"].startswith("render"):
            continue
        inside = [s for s in series if row["t0"] <= s["t"] <= row["t1"]]
        if not inside:
            continue
        for worker in inside[0]["rss"]:
            values = [s["rss"].get(worker, 0) / 1e6 for s in inside]
            quarter = max(1, len(values) // 4)
            rows.append({"stage": row["stage"], "worker": worker,
                         "quarters_mb": [max(values[i * quarter:(i + 1) * quarter] or [0])
                                         for i in range(4)]})
    return rows


def peak_rss_by_stage(series: list[dict], stages: list[dict]) -> dict[str, float]:
    """Per stage: the largest RSS (MB) any worker process had while it ran."""
    peaks = {}
    for row in stages:
        inside = [s for s in series if row["t0"] <= s["t"] <= row["t1"]]
        peaks[row["stage"]] = max((mb / 1e6 for s in inside for mb in s["rss"].values()),
                                  default=0.0)
    return peaks


SPLIT = {"nphm": 6_100, "facescape": 850, "ava256": 850}
"""Assumed scans a data set in the 976K build (configs/full.cfg: ~7,800 scans, NPHM ~6,100;
the rest split evenly), 125 samples each."""


def per_dataset(result: dict) -> list[dict]:
    """Per data set: registration and level-of-detail worker CPU-s a scan, rendered samples
    per worker CPU-s, the peak worker RSS over its stages, photo decode CPU-s a photo, and
    the 976K projection (CPU-h) under the :data:`SPLIT` assumption."""
    rows = []
    stages = {row["stage"]: row for row in result["stages"]}
    peaks = result.get("peak_rss_mb", {})
    for dataset, scans in SPLIT.items():
        if f"render {dataset}" not in stages:
            continue
        register, levels = stages[f"register {dataset}"], stages.get(f"levels {dataset}")
        render = stages[f"render {dataset}"]
        register_s = register["worker_cpu_s"] / max(register["n"], 1)
        levels_s = levels["worker_cpu_s"] / max(levels["n"], 1) if levels else 0.0
        rate = render["n"] / render["worker_cpu_s"]
        samples = scans * TOTAL_SAMPLES / TOTAL_SCANS
        rows.append({"dataset": dataset, "register_cpu_s_per_scan": register_s,
                     "levels_cpu_s_per_scan": levels_s, "samples_per_worker_cpu_s": rate,
                     "peak_rss_mb": max(peaks.get(f"{k} {dataset}", 0.0)
                                        for k in ("register", "levels", "render")),
                     "photo_decode_s": result.get("photo_decode", {}).get(dataset, {}).get(
                         "cpu_s_per_photo"),
                     "scans": scans, "samples": samples,
                     "cpu_h": (scans * (register_s + levels_s) + samples / rate) / 3600})
    return rows


def time_manifests(shards_root: Path, datasets: list[str]) -> dict:
    """Seconds to rebuild every data set's manifest from the shards' sidecars into a scratch
    folder, and to read and list it back."""
    from shards.manifest import list_shards, read_manifest, write_manifest

    scratch = shards_root.parent / "manifest-timing"
    shutil.rmtree(scratch, ignore_errors=True)
    start = time.perf_counter()
    counts = 0
    for dataset in datasets:
        folder = shards_root / dataset
        manifest = read_manifest(folder)
        records = [json.loads((folder / f"{r['name']}.json").read_text())
                   for r in manifest["shards"]]
        (scratch / dataset).mkdir(parents=True)
        write_manifest(scratch / dataset, records, config_hash=manifest.get("config_hash"))
        counts += len(list_shards(folder))
    seconds = time.perf_counter() - start
    shutil.rmtree(scratch)
    return {"seconds": seconds, "shards": counts}


def loader_pass(paths: list[Path], workers: int = 2, batch: int = 8) -> dict:
    """One shuffled pass over every sample through ShardDataset + DataLoader."""
    import torch

    from shards import ShardDataset

    dataset = ShardDataset(paths)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch, shuffle=True, num_workers=workers,
        generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    seen = 0
    for item in loader:
        seen += len(item["sample_id"])
    wall = time.perf_counter() - start
    return {"samples": seen, "samples_per_s": seen / wall, "seconds": wall,
            "workers": workers}


def train_pass(paths: list[Path], out: Path, batch: int = 8, steps: int | None = None) -> dict:
    """Train the tiny predictor (112 px) for one pass over the training split (or
    ``steps``)."""
    from network import ModelConfig, train
    from network.config import TrainConfig
    from shards import ShardReader

    n = 0
    for path in paths:
        with ShardReader(path) as reader:
            n += len(reader)
    steps = steps or -(-int(n * 0.9) // batch)
    config = TrainConfig(model=ModelConfig(backbone="tiny", resolution=112), steps=steps,
                         batch_size=batch, val_fraction=0.1, val_every=0,
                         checkpoint_every=steps, num_workers=2, baseline_samples=64,
                         eval_max_samples=64, warmup_steps=min(100, steps // 10))
    stamps: list[tuple[float, float]] = []
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    train(config, paths, out, device="cpu", progress=False,
          on_step=lambda step, row: stamps.append((time.perf_counter(), time.process_time())))
    wall = time.perf_counter() - start
    middle = stamps[len(stamps) // 10:] or stamps
    intervals = max(1, len(middle) - 1)
    step_s = (middle[-1][0] - middle[0][0]) / intervals
    step_cpu_s = (middle[-1][1] - middle[0][1]) / intervals
    return {"steps": steps, "batch": batch, "seconds": wall, "step_s": step_s,
            "step_cpu_s": step_cpu_s, "samples_per_s_needed": batch / step_s}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "rehearsal.cfg")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "rehearsal")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-seed", type=int, default=0)
    parser.add_argument("--no-kill", action="store_true")
    parser.add_argument("--rerender", action="store_true",
                        help="render the data sets of a finished run in <out> again, undisturbed, "
                        "and compare the manifests")
    parser.add_argument("--train-steps", type=int, default=None,
                        help="default: one pass over the training split")
    parser.add_argument("--datasets", nargs="+", default=None,
                        help="only these data sets (default: the config's)")
    parser.add_argument("--table-only", action="store_true",
                        help="print the table of <out>/rehearsal.json again")
    parser.add_argument("--tail-only", action="store_true",
                        help="reuse <out>/stages.json of a finished run: manifests, loader, "
                        "training and the table only")
    args = parser.parse_args()
    datasets = args.datasets or json.loads(config_value(args.config, "build", "datasets"))
    out = args.out.resolve()
    build = out / "build"
    log = out / "luigi.log"
    if args.table_only:
        result = json.loads((out / "rehearsal.json").read_text())
        series = json.loads((out / "rss_series.json").read_text())
        result["rss_by_stage"] = rss_by_render_stage(series, result["stages"])
        print_table(result, args.workers)
        return
    if args.tail_only:
        saved = json.loads((out / "stages.json").read_text())
        tail(args, out, build, datasets, saved)
        return
    if not args.rerender:
        shutil.rmtree(build, ignore_errors=True)
    else:
        for dataset in datasets:
            disturbed = build.parent / "shards-disturbed" / dataset
            shutil.rmtree(disturbed, ignore_errors=True)
            disturbed.parent.mkdir(parents=True, exist_ok=True)
            (build / "shards" / dataset).rename(disturbed)
    out.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)

    cluster = Cluster(args.workers, out / "cluster")
    monitor = Monitor(cluster, build / "shards")
    monitor.start()
    stages: list[dict] = []
    killer = None
    run_start = time.perf_counter()

    def stage(name: str, task: list[str], count: str, n: int | None = None) -> dict:
        cpu_workers, cpu_client = monitor.worker_cpu_s(), children_cpu_s()
        t0 = time.perf_counter() - run_start
        wall = luigi_stage(task, args.config, build, cluster.address, log)
        time.sleep(1.2)  # one more monitor sample of the workers' CPU
        row = {"stage": name, "count": count, "n": n, "wall_s": wall,
               "worker_cpu_s": monitor.worker_cpu_s() - cpu_workers,
               "client_cpu_s": children_cpu_s() - cpu_client, "t0": t0,
               "t1": time.perf_counter() - run_start}
        stages.append(row)
        print(f"[rehearsal] {name}: {wall:.0f} s wall, workers {row['worker_cpu_s']:.0f} "
              f"CPU-s, client {row['client_cpu_s']:.0f} CPU-s", flush=True)
        return row

    try:
        if not args.rerender:
            for dataset in datasets:
                stage(f"synthesize {dataset}", ["SynthesizeDataset", "--dataset", dataset],
                      "scans")
            for dataset in datasets:
                row = stage(f"register {dataset}", ["RegisterDataset", "--dataset", dataset],
                            "scans")
                summary = json.loads(
                    (build / "registration" / dataset / "summary.json").read_text())
                row["n"] = len(summary["registered_ids"])
        planned = count_samples_planned(build, args.config, datasets)
        if not args.no_kill and not args.rerender:
            rng = random.Random(args.kill_seed)
            killer = Killer(cluster, monitor, rng.randrange(planned // 10, planned * 9 // 10),
                            rng.uniform(0, 5), rng)
            killer.start()
        render_start = time.perf_counter() - run_start
        for dataset in datasets:
            row = stage(f"levels {dataset}", ["PrepareScanLevels", "--dataset", dataset],
                        "scans")
            row["n"] = len(json.loads((build / "registration" / dataset / "summary.json")
                                      .read_text())["registered_ids"])
            row = stage(f"render {dataset}", ["RenderDataset", "--dataset", dataset], "samples")
            row["n"] = json.loads((build / "shards" / dataset / "render.json").read_text()
                                  )["samples"]
        render_span = (render_start, time.perf_counter() - run_start)
        if killer is not None:
            killer.stop()
        for dataset in datasets:
            row = stage(f"verify {dataset}", ["VerifyShards", "--dataset", dataset], "samples")
            row["n"] = json.loads((build / "shards" / dataset / "render.json").read_text()
                                  )["samples"]
    finally:
        monitor.stop()
        cluster.stop()

    saved = {"stages": stages, "planned_samples": planned,
             "killed": killer.killed if killer else None,
             "rss": rss_flatness(monitor.series, render_span)}
    suffix = "-rerender" if args.rerender else ""
    (out / f"stages{suffix}.json").write_text(json.dumps(saved, indent=1) + "\n")
    (out / f"rss_series{suffix}.json").write_text(json.dumps(monitor.series) + "\n")
    tail(args, out, build, datasets, saved)


def tail(args: argparse.Namespace, out: Path, build: Path, datasets: list[str],
         saved: dict) -> None:
    """Shard figures, manifest timing, the comparison or the loader and training passes, and
    the table."""
    from shards.manifest import list_shards

    paths = [p for d in datasets for p in list_shards(build / "shards" / d)]
    sizes = [p.stat().st_size for p in paths]
    counts = [json.loads(Path(str(p) + ".json").read_text())["samples"] for p in paths]
    suffix = "-rerender" if args.rerender else ""
    series_path = out / f"rss_series{suffix}.json"
    series = json.loads(series_path.read_text()) if series_path.exists() else []
    result = {**saved, "rss_by_stage": rss_by_render_stage(series, saved["stages"]),
              "peak_rss_mb": peak_rss_by_stage(series, saved["stages"]),
              "shards": {"count": len(paths), "bytes": sum(sizes),
                         "samples_min": min(counts), "samples_max": max(counts),
                         "samples_mean": sum(counts) / len(counts),
                         "mb_mean": sum(sizes) / len(sizes) / 1e6},
              "manifest": time_manifests(build / "shards", datasets),
              "photo_decode": {d: time_photo_decode(build, d) for d in datasets},
              "machine": machine()}
    if args.rerender:
        result["manifests_identical"] = {
            d: (build / "shards" / d / "manifest.json").read_bytes()
            == (build.parent / "shards-disturbed" / d / "manifest.json").read_bytes()
            for d in datasets}
    else:
        result["loader"] = loader_pass(paths)
        result["train"] = train_pass(paths, out / "train", steps=args.train_steps)
    (out / f"rehearsal{suffix}.json").write_text(json.dumps(result, indent=1) + "\n")
    print_table(result, args.workers)


def time_photo_decode(build: Path, dataset: str, limit: int = 12) -> dict:
    """CPU seconds to decode and undistort one calibrated photo of the synthetic ``dataset``
    (as the render worker does), over up to ``limit`` photos, in this process."""
    from scans import list_scans, load_photos
    from scans.images import load_photo
    raw = build / "raw" / dataset
    options = json.loads((raw / "synthetic.json").read_text())["written"]
    photos = []
    for record in list_scans(dataset, raw, **options):
        photos += load_photos(record)
        if len(photos) >= limit:
            break
    if not photos:
        return {"photos": 0}
    photos = photos[:limit]
    start = time.process_time()
    sizes = {tuple(load_photo(p, undistort=True).shape[1::-1]) for p in photos}
    return {"photos": len(photos), "cpu_s_per_photo": (time.process_time() - start)
            / len(photos), "sizes": sorted(sizes)}


def machine() -> dict:
    return {"cpus": os.cpu_count(), "load_avg": os.getloadavg(),
            "memory_gb": psutil.virtual_memory().total / 2**30,
            "cpu": _cpu_name()}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def print_table(result: dict, workers: int) -> None:
    """The README table."""
    print("\n| stage | count | wall s | /s wall | worker CPU-s | client CPU-s | "
          "per worker CPU-s | per CPU-s, all |")
    print("|---|---|---|---|---|---|---|---|")
    for row in result["stages"]:
        cpu = row["worker_cpu_s"] + row["client_cpu_s"]
        n = row["n"]
        rate = f"{n / row['wall_s']:.2f}" if n else "-"
        per_cpu = f"{n / cpu:.2f}" if n and cpu else "-"
        worker_cpu = row["worker_cpu_s"]
        per_worker = f"{n / worker_cpu:.2f}" if n and worker_cpu else "-"
        count = f"{n} {row['count']}" if n else "-"
        print(f"| {row['stage']} | {count} | {row['wall_s']:.0f} | {rate} | "
              f"{worker_cpu:.0f} | {row['client_cpu_s']:.0f} | {per_worker} | {per_cpu} |")
    shards = result["shards"]
    print(f"\nshards: {shards['count']}, {shards['bytes'] / 1e9:.2f} GB, "
          f"{shards['samples_min']}-{shards['samples_max']} samples (mean "
          f"{shards['samples_mean']:.0f}), {shards['mb_mean']:.0f} MB mean; manifests rebuilt "
          f"from sidecars, read and listed: {result['manifest']['seconds']:.2f} s")
    for worker, rss in result["rss"].items():
        print(f"worker-{worker} RSS peak: first {RSS_EARLY_SAMPLES} samples "
              f"{rss['early_peak_mb'] or 0:.0f} MB, after them {rss['late_peak_mb'] or 0:.0f} MB")
    for row in result.get("rss_by_stage", []):
        print(f"  {row['stage']}, worker-{row['worker']}: peak RSS by quarter of the stage "
              + " / ".join(f"{mb:.0f}" for mb in row["quarters_mb"]) + " MB")
    if result.get("killed"):
        k = result["killed"]
        print(f"killed: worker-{k['worker']} pid {k['pid']} after {k['samples_done']} samples")
    if "manifests_identical" in result:
        print(f"manifests byte-identical to the disturbed run: {result['manifests_identical']}")
    if "loader" in result:
        loader, training = result["loader"], result["train"]
        print(f"loader: {loader['samples']} samples in {loader['seconds']:.0f} s = "
              f"{loader['samples_per_s']:.0f} samples/s ({loader['workers']} workers); "
              f"training (tiny, 112 px, batch {training['batch']}, {training['steps']} steps): "
              f"{training['step_s'] * 1e3:.0f} ms a step ("
              f"{training.get('step_cpu_s', 0) * 1e3:.0f} ms CPU in the training process) = "
              f"{training['samples_per_s_needed']:.0f}"
              f" samples/s needed ({loader['samples_per_s'] / training['samples_per_s_needed']:.1f}"
              "x covered)")
    rows = per_dataset(result)
    if rows:
        print(f"\nper data set; the 976K projection assumes {SPLIT} scans, "
              f"{TOTAL_SAMPLES // TOTAL_SCANS} samples each\n")
        print("| data set | registration CPU-s a scan | level of detail CPU-s a scan | "
              "rendered samples / worker CPU-s | worker peak RSS MB | photo decode CPU-s a "
              "photo | 976K share: scans, samples | CPU-h |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            decode = f"{r['photo_decode_s']:.2f}" if r["photo_decode_s"] else "no photos"
            print(f"| {r['dataset']} | {r['register_cpu_s_per_scan']:.1f} | "
                  f"{r['levels_cpu_s_per_scan']:.1f} | {r['samples_per_worker_cpu_s']:.2f} | "
                  f"{r['peak_rss_mb']:.0f} | {decode} | {r['scans']:,}, "
                  f"{r['samples']:,.0f} | {r['cpu_h']:.1f} |")
        total = sum(r["cpu_h"] for r in rows)
        print(f"| all | | | | | | | {total:.1f} |\non N one-core CPU workers (linear): "
              + ", ".join(f"N={n}: {total / n:.1f} h" for n in (16, 64, 256)))


if __name__ == "__main__":
    main()
