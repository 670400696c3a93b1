# Sourced by the lanes: how long since a $SECONDS reading, as every lane's summary line says it.
#   started=$SECONDS ... echo "done, $(elapsed "$started")"   ->   "done, 4 min 7 s"
elapsed() {
  local seconds=$((SECONDS - $1))
  echo "$((seconds / 60)) min $((seconds % 60)) s"
}
