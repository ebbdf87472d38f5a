"""``qai_hub.util``: only ``dataset_entries_converters`` is provided."""
