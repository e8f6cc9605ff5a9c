"""Splitters and metrics. Functions take frames and column names (like Microsoft Recommenders)."""
