"""Poll a job's status, wait with a timeout, compare states the client's way."""

import time

import controller as hub

job = hub.submit_profile_job(
    model="tiny_cnn.onnx",
    device=hub.Device(),
    options="--max_profiler_iterations 3",
)

status = job.get_status()
print("submitted:", status.code, status.symbol)
assert status.code in {s.name for s in hub.JobStatus.State}

try:
    status = job.wait(timeout=0)
    print("already done:", status)
except TimeoutError:
    print("not finished yet")

while True:
    status = job.get_status()
    if status.finished:
        break
    assert status.pending or status.running
    if status.running:
        assert status.state in hub.JobStatus.all_running_states()
    time.sleep(0.5)

status = job.wait(timeout=600)
print(status)
assert status.success and not status.failure
assert status.code == "SUCCESS"
assert status == hub.JobStatus.State.SUCCESS
assert status.state == hub.JobStatus.State.SUCCESS
assert status.message is None
assert hub.JobStatus.State.CREATED not in hub.JobStatus.all_running_states()
