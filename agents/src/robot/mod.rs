//! Placeholder while the robot agent is being built (owned by the robot work; replaced wholesale).
