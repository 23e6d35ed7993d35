file(REMOVE_RECURSE
  "libp_base.a"
)
