"""How the controller reaches an agent: the one swappable seam.

``local``: the agent as a subprocess of this host. ``adb``: the agent on a
phone or board, started and forwarded through the adb server. Each kind lives in
its own module with a ``Transport`` (one device) and a ``Discovery`` (the devices
it reaches, with their properties); ``base.py`` holds both interfaces, and
``kinds.py`` registers each kind for ``controller/devices/registry.py`` to list.
``simulated`` is a view of ``local`` and is not discovered.
"""
