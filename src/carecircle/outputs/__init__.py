"""Outputs: maps, tables, the briefing, with bilingual labels and escaped input text."""
