file(REMOVE_RECURSE
  "CMakeFiles/p_base.dir/src/base/strbuf.c.o"
  "CMakeFiles/p_base.dir/src/base/strbuf.c.o.d"
  "CMakeFiles/p_base.dir/src/base/xmalloc.c.o"
  "CMakeFiles/p_base.dir/src/base/xmalloc.c.o.d"
  "libp_base.a"
  "libp_base.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/p_base.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
