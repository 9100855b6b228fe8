"""A script configured by one dict (flags-dest: global:config)."""
import settings

config = {"model": {"width": 8, "depth": 2}, "dropout": 0.1}
print("config=%s" % sorted(config.items()))
print("settings=%s" % settings.NAME)
