"""Pure per-API code: validators, parsers, status interpretation and constants.

One module per API (``contract/<api>.py``). No I/O and no heavy imports: hooks, operators, sensors,
triggers and the emulator all use these modules.
"""
