"""The Client object's methods, and the frameworks it lists."""

import controller as hub

client = hub.Client()

frameworks = client.get_frameworks()
for framework in frameworks:
    print(framework.name, framework.api_version, framework.full_version, framework.api_tags)
assert frameworks
assert all(isinstance(f, hub.Framework) for f in frameworks)
assert frameworks == hub.get_frameworks()

model = client.upload_model("tiny_cnn.onnx")
models = client.get_models(limit=5)
assert model.model_id in [m.model_id for m in models]
assert client.get_model(model.model_id).model_id == model.model_id

job = client.submit_profile_job(model, hub.Device(), options="--max_profiler_iterations 3")
again = client.get_job(job.job_id)
status = again.get_status()
print(again, status)
print(again.wait())

devices = client.get_devices()
print(len(devices), "devices,", len(client.get_device_attributes()), "attributes")
print("devicelab", hub.__version__)
