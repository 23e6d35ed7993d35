# Empty dependencies file for p_base.
# This may be replaced when dependencies are built.
