// Package liveness holds oneface's presentation-attack defences (ISO/IEC
// 30107-3 vocabulary): an active challenge checked from 68 landmarks over
// a timed frame sequence, and passive presentation-attack detection (PAD)
// networks scoring single face crops. What they measure, and what they do
// not stop, is in docs/liveness.md; nothing here makes a plain RGB camera
// proof against screen replay of a video, 3-D masks or an injected camera
// feed.
//
// # Active challenge
//
// The verifier draws a [Challenge] bound to the request nonce with
// [NewChallenge] (or [Pending], which also hands each challenge out once):
// one or two of [Blink], [TurnLeft], [TurnRight], in order, answerable
// until Challenge.Expires. The kiosk shows it, captures frames with their
// capture times, and the verifier analyses them (landmarks, embedding)
// and calls [Check], which returns a [Result] whose [Reason] is empty when
// the challenge was met and otherwise one stable refusal code:
//
//	challenge_replayed             answered under another nonce (or, from Pending, a nonce answered before)
//	frames_before_challenge        a frame captured before the challenge was issued
//	challenge_expired              a frame captured after it expired
//	too_few_frames                 fewer than Limits.MinFrames
//	frames_out_of_order            capture times missing, not strictly increasing, or in the future
//	frames_too_fast                frames closer than Limits.MinInterval, or the whole answer too short
//	compared_frame_not_in_sequence the compared frame is not one of the frames
//	mixed_faces                    some frame shows another person than the compared frame
//	static_face                    no frame differs from the first by more than a flat picture's motion
//	challenge_not_performed        the actions were not seen, in order
//
// A blink is an open frame, then a frame whose eye aspect ratio ([EAR]) is
// at most Limits.ClosedRatio of what a flat picture of the open frame would
// show there, then an open frame. A turn is a frontal frame, then a frame
// whose [Yaw] passes Limits.TurnYaw the asked way and passes a flat
// picture's by Limits.TurnBeyondFlat. "A flat picture of frame i" is frame
// i's landmarks mapped onto the later frame by the affine map fitted on the
// points the action does not move: a print or screen moved, tilted or
// turned in front of the camera moves its landmarks by such a map, so
// tilting a print (which halves the raw EAR) is not a blink, and turning a
// print is not a head turn. Bending a print is not affine; on the spoof-dev
// prints it moved the closure no lower than 0.685 and the turn measure no
// higher than 0.12, against 0.5 and 0.2 required.
//
// Directions are the person's own, in an un-mirrored camera frame: a kiosk
// that mirrors its frames must un-mirror them, or every turn is refused.
//
// Check does not remember nonces; the caller spends the nonce before it
// checks (its durable consent-nonce state, or [Pending.Take]) and refuses
// a second answer with [ReasonReplayed]. SameFace is the caller's: its
// embedding and threshold decide "the same person in every frame".
package liveness
