"""Devices: the registry of IoT devices in elders' homes (门磁, 烟感, 燃气, 电弧, SOS, 跌倒, 血压)."""
