"""Device timing: run models on a device (this machine or a board over SSH) and turn the timings
into the tables :mod:`edgenas.hardware` prices archs with (``edgenas profile``).

Modules (import them directly; nothing heavy is imported here):

* :mod:`~edgenas.timing.remote`: :class:`DeviceSession`, the standalone device runner on this
  machine (``LocalSession``) or over ``ssh`` / ``scp`` (``SshSession``).
* :mod:`~edgenas.timing.device`: ``edgenas profile --target NAME [--host ...]``: designed archs timed
  on the device, journaled, fitted into a user target.
* :mod:`~edgenas.timing.cpu_ops`: ``edgenas profile --target cpu``: this machine's CPU op by op with
  onnxruntime, into a per-op table.

This package depends on :mod:`edgenas.hardware` (fits, tables, kernel counts), never the reverse.
"""
