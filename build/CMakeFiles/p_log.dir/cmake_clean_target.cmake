file(REMOVE_RECURSE
  "libp_log.a"
)
