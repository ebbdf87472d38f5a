"""How the controller reaches an agent: the one swappable seam.

``local``: the agent as a subprocess of this host. ``adb``: the agent on a
phone or board, started and forwarded through the adb server.
"""
