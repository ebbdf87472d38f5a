"""List devices and attributes; pick devices by name, OS and chipset."""

import controller as hub

devices = hub.get_devices()
for device in devices:
    print(device.name, device.os, device.attributes)
assert devices

attributes = hub.get_device_attributes()
print(len(attributes), "attributes, e.g.", sorted(attributes)[:5])
assert "chipset:qualcomm-snapdragon-8gen2" in attributes

# Every device with a Snapdragon 8 Gen 2 chipset. (A README difference: a simulated
# SoC answers to a chipset only with "simulated:true" or DEVICELAB_SIMULATE=1, so
# that a job meant for a phone never lands on a simulator.)
gen2 = hub.get_devices(attributes=["chipset:qualcomm-snapdragon-8gen2", "simulated:true"])
print([d.name for d in gen2])
assert any(d.name == "Snapdragon 8 Gen 2 (simulated)" for d in gen2)

# By name.
by_name = hub.get_devices(name="Snapdragon 8 Gen 2 (simulated)")
assert len(by_name) == 1 and by_name[0].name == "Snapdragon 8 Gen 2 (simulated)"
print("os of", by_name[0].name, "=", by_name[0].os)
assert hub.get_devices(name=by_name[0].name, os=by_name[0].os)

# No device has this name: an empty list, not an error.
assert hub.get_devices(name="No Such Phone 9000") == []

device = hub.Device(attributes="chipset:qualcomm-snapdragon-8gen2")
print(device)
