"""What the controller and the agent share, beside the wire format in ``protos/``.

Both sides import these modules, and the agent ships alone to a device (a zip of
``agent/``, ``contract/`` and ``protos/``: ``controller/agent_bundle.py``), so they
import nothing from ``agent`` or ``controller``:

- ``formats.py``: the model formats (type name, suffix, runnable, which agent runtime);
- ``option_spec.py`` and ``option_tables.py``: the sub-option vocabulary of
  ``--tflite_options`` / ``--qnn_options`` and its tables, which the controller
  validates at submit and the agent checks again before a delegate sees a value;
- ``handshake.py``: how the controller finds a started agent (its ready line, token,
  message limit);
- ``tensors.py``: a model's tensors (``TensorInfo``) and numpy arrays <-> ``Tensor``
  messages (inference inputs and outputs);
- ``layers.py``: one layer's time in one profiled iteration (``LayerTiming``);
- ``stages.py``: the names of a profile's stages and their ``Stage`` values.
"""
