"""Print a selection of recent jobs with get_job_summaries."""

import controller as hub

job = hub.submit_profile_job(
    "tiny_cnn.onnx", hub.Device(), name="summaries demo", options="--max_profiler_iterations 3"
)
job.wait()

running = hub.get_job_summaries(limit=10, state=hub.JobStatus.all_running_states())
failed = hub.get_job_summaries(limit=10, state=hub.JobStatus.State.FAILED)
more_failed = hub.get_job_summaries(offset=10, limit=10, state=hub.JobStatus.State.FAILED)
for j in running + failed + more_failed:
    print(f"{j.job_id}: {j.name} running since {j.date}: currently {j.status.code}")

recent = hub.get_job_summaries(limit=5)
assert recent[0].job_id == job.job_id, [s.job_id for s in recent]
summary = recent[0]
print(repr(summary))
assert summary.name == "summaries demo"
assert summary.status.code == "SUCCESS"
assert summary.status.success
assert isinstance(summary, hub.InferenceJobSummary)

done = hub.get_job_summaries(limit=50, state=hub.JobStatus.State.SUCCESS)
assert job.job_id in {s.job_id for s in done}
assert all(
    s.job_type == hub.JobType.PROFILE for s in hub.get_job_summaries(type=hub.JobType.PROFILE)
)
