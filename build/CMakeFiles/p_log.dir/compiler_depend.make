# Empty compiler generated dependencies file for p_log.
# This may be replaced when dependencies are built.
