// `sqlx::migrate!` embeds `migrations/` at compile time, but cargo does not know the macro read
// that directory: a new migration was left out of the next build (a schema dump from such a
// binary stopped at the previous migration). Rebuild when the directory changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
