//! The only module that talks to Docker (bollard) or spawns terminals.

mod images;
