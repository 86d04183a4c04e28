//! Writes the Thing Description and Thing Model of every example Thing to `examples/td/`:
//! `cargo run -p thingwire-examples --bin emit-td`. The files are committed; a test fails when they drift.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("td");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in thingwire_examples::thing_description_files() {
        let path = dir.join(&name);
        std::fs::write(&path, text)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
