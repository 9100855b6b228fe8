NAME = "shared settings"
