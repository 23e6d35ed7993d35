# Empty compiler generated dependencies file for postern.
# This may be replaced when dependencies are built.
