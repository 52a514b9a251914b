pub mod loss;
pub mod trainer;
