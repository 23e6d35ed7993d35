file(REMOVE_RECURSE
  "CMakeFiles/postern.dir/src/cli/cli.c.o"
  "CMakeFiles/postern.dir/src/cli/cli.c.o.d"
  "CMakeFiles/postern.dir/src/cli/main.c.o"
  "CMakeFiles/postern.dir/src/cli/main.c.o.d"
  "postern"
  "postern.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/postern.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
