"""What each ``devicelab`` subcommand does (the parser lives in ``controller/cli.py``)."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

import controller as hub
from controller.cli_progress import JobProgress, UploadBar
from controller.errors import UserError

EXIT_OK, EXIT_JOB_FAILED = 0, 1


def _device(args: argparse.Namespace) -> hub.Device | None:
    return hub.Device(args.device) if args.device else None


def _model(text: str) -> hub.Model | str:
    """A path, or the id of an uploaded model."""
    if not Path(text).exists() and text.startswith("m") and "." not in text:
        return hub.get_model(text)
    return text


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``image=1,3,224,224`` -> ("image", (1, 3, 224, 224))."""
    name, _, dims = text.partition("=")
    try:
        shape = tuple(int(d) for d in dims.split(",") if d)
    except ValueError:
        shape = ()
    if not name or not shape:
        raise UserError(f"--input-shape {text!r}: expected NAME=D0,D1,... e.g. image=1,3,224,224")
    return name, shape


def _failed(job: hub.Job, status: hub.JobStatus) -> int:
    print(f"job {job.job_id} failed: {status.message}", file=sys.stderr)
    return EXIT_JOB_FAILED


def json_text(data: Any) -> str:
    """``data`` as strict JSON: NaN and infinities (an empty statistic) become null.

    Python's json writes them as bare ``NaN``, which no other JSON reader accepts.
    """
    return json.dumps(_finite(data), indent=2, default=str, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _write_json(path: str, data: Any) -> None:
    Path(path).write_text(json_text(data))
    print(f"wrote {path}", file=sys.stderr)


def _print_profile(result: dict[str, Any], top: int) -> None:
    from controller.report_text import layer_table, summary_text

    print(summary_text(result, bold=sys.stdout.isatty()))
    print()
    print(layer_table(result, top=top))


def profile(args: argparse.Namespace) -> int:
    progress = JobProgress(args.quiet)
    job = hub.submit_profile_job(
        _model(args.model),
        _device(args),
        options=args.options,
        input_specs=dict(parse_shape(t) for t in args.input_shape) or None,
        listener=progress,
        upload_progress=UploadBar(args.quiet),
    )
    assert isinstance(job, hub.ProfileJob)
    progress.announce(job)
    status = job.wait()
    from controller.api import _drain_callbacks

    _drain_callbacks(job.job_id)  # the last progress lines before the result
    if status.failure:
        return _failed(job, status)
    result = job.download_profile()
    if args.json:
        _write_json(args.json, result)
    if args.html:
        from controller.reports import write_html_report

        write_html_report(result, Path(args.html))
        print(f"wrote {args.html}", file=sys.stderr)
    _print_profile(result, args.top)
    return EXIT_OK


def _load_inputs(specs: list[str]) -> dict[str, np.ndarray]:
    inputs: dict[str, np.ndarray] = {}
    for text in specs:
        name, sep, file = text.partition("=")
        if not sep or not name:
            raise UserError(f"--input {text!r}: expected NAME=FILE.npy")
        try:
            inputs[name] = np.load(file)
        except (OSError, ValueError) as exc:
            raise UserError(f"--input {name}: cannot read {file}: {exc}") from exc
    return inputs


def _as_samples(arrays: dict[str, np.ndarray], model: hub.Model) -> dict[str, list[np.ndarray]]:
    """Each ``--input`` array as samples: one array of the input's rank is one sample;
    one rank more holds N samples on its leading axis (the layout ``--out`` writes).
    Where this host cannot read the model's inputs, each array is one sample."""
    ranks = {t.name: len(t.shape) for t in model.input_spec.get(None, []) if t.shape}
    return {
        name: list(array) if array.ndim == ranks.get(name, -1) + 1 else [array]
        for name, array in arrays.items()
    }


def infer(args: argparse.Namespace) -> int:
    arrays = _load_inputs(args.input)  # a bad --input is refused before the upload
    model = _model(args.model)
    model = model if isinstance(model, hub.Model) else hub.upload_model(model)
    job = hub.submit_inference_job(
        model, _device(args), _as_samples(arrays, model), options=args.options
    )
    JobProgress(args.quiet).announce(job)
    status = job.wait()
    if status.failure:
        return _failed(job, status)
    outputs = job.download_output_data()
    assert outputs is not None  # the job succeeded
    if args.out:
        stacked: dict[str, Any] = {name: np.stack(values) for name, values in outputs.items()}
        np.savez(args.out, **stacked)
        print(f"wrote {args.out}", file=sys.stderr)
    for name, values in outputs.items():
        print(
            f"{name}: {len(values)} sample(s), shape {list(values[0].shape)}, "
            f"dtype {values[0].dtype}"
        )
    if args.json:
        _write_json(args.json, {n: [v.tolist() for v in vs] for n, vs in outputs.items()})
    return EXIT_OK


def compile_(args: argparse.Namespace) -> int:
    if not args.device:
        raise UserError("compile needs --device: the phone or SoC to compile for")
    specs = dict(parse_shape(t) for t in args.input_shape) or None
    device = hub.Device(args.device)
    if args.profile:
        job, profile_job = hub.submit_compile_and_profile_jobs(
            _model(args.model), device, input_specs=specs, compile_options=args.options
        )
    else:
        job = hub.submit_compile_job(
            _model(args.model), device, input_specs=specs, options=args.options
        )
    JobProgress(args.quiet).follow_messages(job)
    status = job.wait()
    if status.failure:
        return _failed(job, status)
    result = job.download_results()
    assert result.target_model is not None
    print(f"compiled model: {result.target_model.model_id} ({result.target_model.name})")
    for note in result.notes:
        print(f"note: {note}")
    if args.out:
        job.download_target_model(args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.profile:
        status = profile_job.wait()
        if status.failure:
            return _failed(profile_job, status)
        _print_profile(profile_job.download_profile(), 25)
    return EXIT_OK


def devices(args: argparse.Namespace) -> int:
    """Reachable devices with their health state and why; devices the health machine
    holds off (offline, quarantined) are listed even when adb no longer lists them."""
    from controller.api import _store

    if args.release:
        return _release(args.release)
    if args.history is not None:
        return _history(args.history or None, args.json)
    found = hub.get_devices(args.name, args.os, args.attribute)
    shown = {d.serial for d in found}
    filtered = bool(args.name or args.os or args.attribute)
    absent = [
        status
        for status in _store().device_statuses()
        if status.serial not in shown and not status.takes_jobs and not filtered
    ]
    if args.json:
        rows = [
            {"name": d.name, "serial": d.serial, "os": d.os, "attributes": list(d.attributes),
             "state": d.state, "reason": d.state_reason, "reachable": True, "host": d.host}
            for d in found
        ] + [
            {"name": "", "serial": s.serial, "os": "", "attributes": [], "state": s.state.value,
             "reason": s.reason, "reachable": False}
            for s in absent
        ]  # fmt: skip
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for device in found:
        host = f"  on {device.host}" if device.host else ""
        print(f"{device.name}  [{device.serial}]  os {device.os or '?'}  {device.state}{host}")
        print(f"    {' '.join(device.attributes)}")
        if device.state != "available" and device.state_reason:
            print(f"    {device.state}: {device.state_reason}")
    for status in absent:
        print(f"?  [{status.serial}]  not reachable  {status.state.value}")
        print(f"    {status.state.value}: {status.reason}")
    if not found and not absent:
        print("no matching device", file=sys.stderr)
    return EXIT_OK


def _release(serial: str) -> int:
    """``devicelab devices --release SERIAL``: a person says the device is fine."""
    import getpass

    from controller.api import _store
    from controller.device_states import Released

    status = _store().device_event(serial, Released(f"{getpass.getuser()} (devicelab devices)"))
    if status is None:
        print(f"{serial} is available already")
    else:
        print(f"{serial}: {status.state.value} ({status.reason})")
    return EXIT_OK


def _history(serial: str | None, as_json: bool) -> int:
    """``devicelab devices --history [SERIAL]``: stored transitions, oldest first."""
    from controller.api import _store

    rows = [
        {"at": t.at.isoformat(timespec="seconds"), "serial": t.serial,
         "from": t.from_state.value, "to": t.to_state.value, "reason": t.reason,
         "job": t.job_id or ""}
        for t in _store().device_transitions(serial, limit=200)
    ]  # fmt: skip
    if as_json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        job = f"  (job {row['job']})" if row["job"] else ""
        print(f"{row['at']}  {row['serial']}  {row['from']} -> {row['to']}  {row['reason']}{job}")
    if not rows:
        print("no device has changed state", file=sys.stderr)
    return EXIT_OK


def _table(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    for row in rows:
        print("  ".join(str(v) for v in row.values()))


def models(args: argparse.Namespace) -> int:
    rows = [
        {"id": m.model_id, "name": m.name, "type": m.model_type.value, "date": m.date}
        for m in hub.get_models(limit=args.limit)
    ]
    _table(rows, args.json)
    return EXIT_OK


def datasets(args: argparse.Namespace) -> int:
    rows = [
        {"id": d.dataset_id, "name": d.name, "expires": d.expiration_time}
        for d in hub.get_datasets(limit=args.limit)
    ]
    _table(rows, args.json)
    return EXIT_OK


def jobs(args: argparse.Namespace) -> int:
    rows = []
    for job in hub.get_jobs(args.limit):
        status = job.get_status()
        rows.append(
            {
                "id": job.job_id,
                "type": job.job_type,
                "state": status.label,
                "name": job.name,
                "date": job.date,
                "message": status.message,
            }
        )
    _table(rows, args.json)
    return EXIT_OK


def upload(args: argparse.Namespace) -> int:
    model = hub.upload_model(args.model)
    print(model.model_id)
    return EXIT_OK


def job(args: argparse.Namespace) -> int:
    handle = hub.get_job(args.job_id)
    status = handle.wait() if args.wait else handle.get_status()
    result = handle._store.get_result(handle.job_id)
    record = handle._store.get_job(handle.job_id)
    retries = record.retries
    if args.json:
        print(
            json_text(
                {
                    "job_id": handle.job_id,
                    "type": handle.job_type,
                    "state": status.label,
                    "message": status.message,
                    "retries": retries,
                    "host": record.host,
                    "device": record.device_serial,
                    "result": result,
                },
            )
        )
    else:
        print(f"{handle.job_id}  {handle.job_type}  {status.label}  {status.message or ''}")
        if record.host and record.device_serial:  # who runs (or ran) it: a lab of hosts
            print(f"on {record.host} [{record.device_serial}], attempt {record.attempt}")
        for retry in retries:
            print(f"retried: device {retry['device']} failed at {retry['at']}: {retry['reason']}")
        if result and "execution_summary" in result:
            _print_profile(result, 25)
    return EXIT_JOB_FAILED if status.failure else EXIT_OK


def cancel(args: argparse.Namespace) -> int:
    if hub.get_job(args.job_id).cancel():
        print(f"cancelled {args.job_id}")
    else:
        print(f"{args.job_id} had already ended")
    return EXIT_OK


def _profile_result(job_id: str) -> dict[str, Any]:
    handle = hub.get_job(job_id)
    if not isinstance(handle, hub.ProfileJob):
        raise UserError(f"{job_id} is a {handle.job_type} job; reports are for profile jobs")
    result = handle.partial_profile()
    if result is None:
        raise UserError(f"{job_id} has no result yet ({handle.get_status().label})")
    return result


def report(args: argparse.Namespace) -> int:
    from controller.reports import write_html_report

    path = write_html_report(_profile_result(args.job_id), Path(args.out or f"{args.job_id}.html"))
    print(path)
    return EXIT_OK


def trace(args: argparse.Namespace) -> int:
    from controller.reports import write_chrome_trace

    path = write_chrome_trace(_profile_result(args.job_id), Path(args.out or f"{args.job_id}.json"))
    print(path)
    return EXIT_OK


def worker(args: argparse.Namespace) -> int:
    """Run a worker in the foreground (a lab's), or show / stop the one serving the store."""
    from controller import daemon
    from controller.api import _store

    root = _store().root
    if args.status or args.stop:
        pid = daemon.stop_worker(root) if args.stop else daemon.serving_pid(root)
        verb = "stopped" if args.stop else "serves"
        print(f"worker pid {pid} {verb} {root}" if pid else f"no worker serves {root}")
        return EXIT_OK if pid or args.stop else EXIT_JOB_FAILED
    lock = daemon.StoreLock(root)
    if not lock.try_acquire():
        print(
            f"a worker daemon (pid {daemon.serving_pid(root)}) serves {root} too; both claim "
            "jobs atomically, and this one takes over when it idles out",
            file=sys.stderr,
        )
    # A lab's worker runs in the foreground: its log (recovered jobs, agents) is its stderr.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    print(f"worker running on {root}; ^C to stop", file=sys.stderr)
    daemon.serve(_store(), lock, idle_exit_sec=None)
    return EXIT_OK


def options(args: argparse.Namespace) -> int:
    from controller.options import describe_options

    print(describe_options())
    return EXIT_OK


def samples(args: argparse.Namespace) -> int:
    from controller.samples import skipped_samples, write_samples

    for path in write_samples(Path(args.directory), skip_missing=True):
        print(path)
    for skipped in skipped_samples(Path(args.directory)):
        print(f"skipped: {skipped}", file=sys.stderr)
    return EXIT_OK


def bundle(args: argparse.Namespace) -> int:
    """Build (or reuse) the device runtime; print its id, size and versions."""
    import shutil

    from controller.device_runtime.build import build_runtime

    built = build_runtime(args.arch, qnn=args.qnn, rebuild=args.rebuild)
    if args.out:
        shutil.copyfile(built.path, args.out)
    manifest = built.manifest
    print(f"runtime {built.runtime_id}: {built.path}")
    print(f"  {built.size / 1e6:.1f} MB compressed, {int(manifest['unpacked_bytes']) / 1e6:.1f} MB "
          f"unpacked, {manifest['files']} files")  # fmt: skip
    wheels: dict[str, str] = manifest["wheels"]
    print(f"  python {manifest['python']}; " + ", ".join(f"{n} {v}" for n, v in wheels.items()))
    return EXIT_OK


def doctor(args: argparse.Namespace) -> int:
    """Print the device's checks; exit 0 when it can run jobs, 1 when it cannot."""
    from controller.doctor import diagnose, format_table

    diagnosis = diagnose(args.device)
    if args.json:
        print(json.dumps(diagnosis.as_dict(), indent=2))
    else:
        print(format_table(diagnosis))
    return EXIT_OK if diagnosis.can_run_jobs else EXIT_JOB_FAILED
