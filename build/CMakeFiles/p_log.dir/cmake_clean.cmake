file(REMOVE_RECURSE
  "CMakeFiles/p_log.dir/src/log/log.c.o"
  "CMakeFiles/p_log.dir/src/log/log.c.o.d"
  "libp_log.a"
  "libp_log.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/p_log.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
